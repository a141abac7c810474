"""The bookings app's own contract codes (CONTRACT.md "Scheduled bookings"); shared codes
(`not_found`, `invalid`, `invalid_state`) are in `config/errors.py`."""

from django.utils.translation import gettext_lazy as _

from config.errors import ApiError


class SlotUnavailable(ApiError):
    status_code = 409
    code = "slot_unavailable"
    default_detail = _(
        "That time has just been taken or is no longer available. Choose another slot."
    )


class TooEarly(ApiError):
    status_code = 409
    code = "too_early"
    default_detail = _("The room is not open yet.")
