"""The accounts app's own contract codes (CONTRACT.md "Accounts"); shared codes are in
`config/errors.py`."""

from datetime import datetime

from django.utils.translation import gettext_lazy as _

from config.errors import ApiError


class EmailTaken(ApiError):
    status_code = 409
    code = "email_taken"
    default_detail = _("An account with this email already exists.")


class TokenNotValid(ApiError):
    status_code = 401
    code = "token_not_valid"
    default_detail = _("Token is invalid or expired.")


class InvalidCredentials(ApiError):
    status_code = 401
    code = "invalid_credentials"
    default_detail = _("The email or password is wrong.")


class AccountLocked(ApiError):
    status_code = 423
    code = "account_locked"
    default_detail = _("Too many failed logins. Try again later.")
    # When the lock ends, for the pages to show in the viewer's zone.
    until: datetime | None = None


class MfaRequired(ApiError):
    status_code = 401
    code = "mfa_required"
    default_detail = _("This account needs a one-time code.")


class InvalidOtp(ApiError):
    """400 when setting MFA up or down; login answers it 401 (`status=401`)."""

    status_code = 400
    code = "invalid_otp"
    default_detail = _("The code is wrong.")


class MfaAlreadyEnabled(ApiError):
    status_code = 409
    code = "mfa_already_enabled"
    default_detail = _("MFA is already enabled.")


class MfaNotSetUp(ApiError):
    status_code = 409
    code = "mfa_not_set_up"
    default_detail = _("Call mfa/setup first.")


class MfaNotEnabled(ApiError):
    status_code = 409
    code = "mfa_not_enabled"
    default_detail = _("MFA is not enabled.")
