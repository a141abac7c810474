"""The consultations app's own contract codes (CONTRACT.md "Consultations"); shared codes
(`not_found`, `permission_denied`, `invalid_state`) are in `config/errors.py`."""

from django.utils.translation import gettext_lazy as _

from config.errors import ApiError


class ConsultantOffline(ApiError):
    status_code = 409
    code = "consultant_offline"
    default_detail = _("The consultant is offline.")


class ConsultantBusy(ApiError):
    status_code = 409
    code = "consultant_busy"
    default_detail = _("The consultant is in another consultation.")


class ClientBusy(ApiError):
    status_code = 409
    code = "client_busy"
    default_detail = _("You already have a pending or active consultation.")


class ChannelNotOffered(ApiError):
    """400 when starting; the call routes and frames answer it 409 (`status=409`)."""

    status_code = 400
    code = "channel_not_offered"
    default_detail = _("The consultant does not offer this channel.")


class RefundExceedsCharge(ApiError):
    status_code = 409
    code = "refund_exceeds_charge"
    default_detail = _("The refund would exceed what the consultation charged.")
