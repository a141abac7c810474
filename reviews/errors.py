"""The reviews app's own contract codes; shared codes are in `config/errors.py`."""

from django.utils.translation import gettext_lazy as _

from config.errors import ApiError


class AlreadyReviewed(ApiError):
    status_code = 409
    code = "already_reviewed"
    default_detail = _("This consultation has been reviewed already.")
