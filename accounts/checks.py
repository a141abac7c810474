"""System checks of the accounts app (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.checks import Info, Tags, register


@register(Tags.security, deploy=True)
def jwt_signing_key_is_its_own(app_configs, **kwargs) -> list[Info]:
    """Recommended, not required: with JWT_SIGNING_KEY unset, tokens are signed with SECRET_KEY,
    so rotating one rotates both (every session ends) and one leak is both."""
    if settings.SIMPLE_JWT["SIGNING_KEY"] != settings.SECRET_KEY:
        return []
    return [
        Info(
            "JWT_SIGNING_KEY is not set: access and refresh tokens are signed with SECRET_KEY.",
            hint="Set JWT_SIGNING_KEY to 50+ random characters of its own.",
            id="accounts.I001",
        )
    ]
