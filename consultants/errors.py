"""The consultants app's own contract codes; shared codes are in `config/errors.py`."""

from django.utils.translation import gettext_lazy as _

from config.errors import ApiError


class ConsultantNotVerified(ApiError):
    """403 on the consultant's own routes; starting a consultation answers it 409."""

    status_code = 403
    code = "consultant_not_verified"
    default_detail = _("Only a verified consultant can do this.")


class DocumentQuotaExceeded(ApiError):
    status_code = 409
    code = "document_quota_exceeded"
    default_detail = _("No room for another document: an operator can remove old ones.")
