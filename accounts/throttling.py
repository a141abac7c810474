from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from config.throttling import ClientIpMixin


class AuthRateThrottle(ClientIpMixin, SimpleRateThrottle):
    """THROTTLE_RATE_AUTH per client IP on login, register and refresh, and on the admin's
    login page (`auth_attempt_wait`): one budget per address for every door.

    The rate is read from the settings on every request (DRF's own scoped throttles read it once
    at import), so an overridden setting takes effect at once.
    """

    scope = "auth"

    def get_rate(self) -> str:
        return settings.THROTTLE_RATE_AUTH

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def auth_attempt_wait(request) -> float | None:
    """For sign-in forms outside DRF (a Django `HttpRequest`): None if this attempt is within
    the client address's THROTTLE_RATE_AUTH (and counts it), else the seconds to wait."""
    throttle = AuthRateThrottle()
    # A Django request, and no view: the throttle reads only the client address (request.META).
    if throttle.allow_request(request, None):  # type: ignore[arg-type]
        return None
    return throttle.wait() or 1.0
