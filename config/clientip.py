"""The client's IP address, read one way everywhere (throttles, the login lockout's log, pages).

`TRUSTED_PROXY_COUNT` says how many proxies in front of the server append to
`X-Forwarded-For` (default 0: none, and the header is ignored, since anyone can send it). With
N trusted proxies the client is the N-th address from the right: each proxy appends the address
it was connected from, so what lies further left was written by the client and proves nothing.
"""

import ipaddress
from collections.abc import Mapping
from typing import Any

from django.conf import settings


def client_ip(request: Any) -> str | None:
    """The client address of a Django or DRF request (or of a `META`-like mapping)."""
    meta: Mapping[str, Any] = getattr(request, "META", request)
    remote = meta.get("REMOTE_ADDR") or None
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return remote
    forwarded = [part.strip() for part in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < trusted:
        return remote  # fewer hops than proxies: not through them; the socket's peer it is
    candidate = forwarded[-trusted]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
