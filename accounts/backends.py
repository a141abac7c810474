"""The one authentication backend: Django's permission checks, with sign-in through
`accounts.services.authenticate`, so any caller of `django.contrib.auth.authenticate()` meets the
same lockout and MFA as the API (nothing can guess passwords around them)."""

from django.contrib.auth.backends import ModelBackend

from accounts import services
from config.clientip import client_ip
from config.errors import ApiError


class AccountBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, otp=None, **kwargs):
        email = username or kwargs.get("email")
        if not email or password is None:
            return None
        try:
            return services.authenticate(
                email=email,
                password=password,
                otp=otp,
                client_ip=client_ip(request) if request is not None else None,
            )
        except ApiError:
            return None
