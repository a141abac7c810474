"""The wallets app's contract errors (CONTRACT.md "Wallet and payments")."""

from config.errors import ApiError


class InsufficientFunds(ApiError):
    """402 `insufficient_balance`: the wallet's available balance cannot cover the amount."""

    def __init__(self, detail: str = "The wallet's available balance is too low."):
        super().__init__(402, "insufficient_balance", detail)


class InvalidSignature(ApiError):
    def __init__(self, detail: str = "The signature does not match."):
        super().__init__(400, "invalid_signature", detail)


class RefundExceedsPayment(ApiError):
    def __init__(self, detail: str = "The refund would exceed what is left of the payment."):
        super().__init__(409, "refund_exceeds_payment", detail)


class GatewayUnavailable(ApiError):
    """502 `gateway_error`: the payment gateway failed or did not answer."""

    def __init__(self, detail: str = "The payment gateway did not answer. Try again."):
        super().__init__(502, "gateway_error", detail)
