"""ICE servers for a call: STUN from settings, TURN with coturn's time-limited REST credentials.

coturn's `use-auth-secret` scheme: the username is `<expiry unix time>:<user id>` and the
credential is base64(HMAC-SHA1(TURN_SECRET, username)); the TURN server recomputes it with the
same secret and refuses it once the expiry has passed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone


@dataclass(frozen=True)
class IceConfig:
    ice_servers: list[dict]
    expires_at: datetime


def turn_credential(*, secret: str, username: str) -> str:
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def ice_config(*, user_id, now: datetime | None = None) -> IceConfig:
    """The ICE servers a participant's browser should use, valid until `expires_at`."""
    now = now or timezone.now()
    expires_at = (now + timedelta(seconds=settings.TURN_CREDENTIAL_TTL_SECONDS)).replace(
        microsecond=0
    )
    servers: list[dict] = []
    if settings.STUN_URLS:
        servers.append({"urls": list(settings.STUN_URLS)})
    if settings.TURN_URLS and settings.TURN_SECRET:
        username = f"{int(expires_at.timestamp())}:{user_id}"
        servers.append(
            {
                "urls": list(settings.TURN_URLS),
                "username": username,
                "credential": turn_credential(secret=settings.TURN_SECRET, username=username),
            }
        )
    return IceConfig(ice_servers=servers, expires_at=expires_at.astimezone(UTC))
