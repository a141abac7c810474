"""DRF's throttles, identifying anonymous clients by `config.clientip.client_ip`.

DRF's own `get_ident` trusts the whole `X-Forwarded-For` header unless told how many proxies
there are: a client could send a new header with every request and never be throttled.
"""

from rest_framework import throttling

from config.clientip import client_ip


class ClientIpMixin:
    def get_ident(self, request) -> str:
        return client_ip(request) or "unknown"


class AnonRateThrottle(ClientIpMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(ClientIpMixin, throttling.UserRateThrottle):
    pass
