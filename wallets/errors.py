"""The wallets app's own contract codes (CONTRACT.md "Wallet and payments"); shared codes are
in `config/errors.py`."""

from django.utils.translation import gettext_lazy as _

from config.errors import ApiError


class InsufficientFunds(ApiError):
    """402 `insufficient_balance`: the wallet's available balance cannot cover the amount."""

    status_code = 402
    code = "insufficient_balance"
    default_detail = _("The wallet's available balance is too low.")


class InvalidSignature(ApiError):
    status_code = 400
    code = "invalid_signature"
    default_detail = _("The signature does not match.")


class RefundExceedsPayment(ApiError):
    status_code = 409
    code = "refund_exceeds_payment"
    default_detail = _("The refund would exceed what is left of the payment.")


class PaymentNotCaptured(ApiError):
    """409 `payment_not_captured`: verify asked the gateway, which has not (yet) captured the
    payment (not paid, still processing, or failed)."""

    status_code = 409
    code = "payment_not_captured"
    default_detail = _(
        "The gateway has not confirmed this payment yet. If money left your account, it will "
        "be credited within minutes."
    )


class GatewayUnavailable(ApiError):
    """502 `gateway_error`: the payment gateway failed or did not answer."""

    status_code = 502
    code = "gateway_error"
    default_detail = _("The payment gateway did not answer. Try again.")


class IdempotencyKeyReused(ApiError):
    status_code = 409
    code = "idempotency_key_reused"
    default_detail = _("This Idempotency-Key was used with a different request body.")


class WalletFrozen(ApiError):
    """423 `wallet_frozen`: an operator froze the wallet (recharges, new consultations,
    bookings and payouts are refused; money owed to it still arrives)."""

    status_code = 423
    code = "wallet_frozen"
    default_detail = _("This wallet is frozen by an operator. Contact support.")
