from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class AuthRateThrottle(SimpleRateThrottle):
    """THROTTLE_RATE_AUTH per client IP on login, register and refresh.

    The rate is read from the settings on every request (DRF's own scoped throttles read it once
    at import), so an overridden setting takes effect at once.
    """

    scope = "auth"

    def get_rate(self) -> str:
        return settings.THROTTLE_RATE_AUTH

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
