"""The reviews app's own contract codes; shared codes are in `config/errors.py`."""

from config.errors import ApiError


class AlreadyReviewed(ApiError):
    status_code = 409
    code = "already_reviewed"
    default_detail = "This consultation has been reviewed already."
