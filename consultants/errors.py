"""The consultants app's own contract codes; shared codes are in `config/errors.py`."""

from config.errors import ApiError


class ConsultantNotVerified(ApiError):
    """403 on the consultant's own routes; starting a consultation answers it 409."""

    status_code = 403
    code = "consultant_not_verified"
    default_detail = "Only a verified consultant can do this."
