"""The wallets app's own contract codes (CONTRACT.md "Wallet and payments"); shared codes are
in `config/errors.py`."""

from config.errors import ApiError


class InsufficientFunds(ApiError):
    """402 `insufficient_balance`: the wallet's available balance cannot cover the amount."""

    status_code = 402
    code = "insufficient_balance"
    default_detail = "The wallet's available balance is too low."


class InvalidSignature(ApiError):
    status_code = 400
    code = "invalid_signature"
    default_detail = "The signature does not match."


class RefundExceedsPayment(ApiError):
    status_code = 409
    code = "refund_exceeds_payment"
    default_detail = "The refund would exceed what is left of the payment."


class GatewayUnavailable(ApiError):
    """502 `gateway_error`: the payment gateway failed or did not answer."""

    status_code = 502
    code = "gateway_error"
    default_detail = "The payment gateway did not answer. Try again."


class IdempotencyKeyReused(ApiError):
    status_code = 409
    code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used with a different request body."
