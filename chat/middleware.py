"""WebSocket authentication with the access JWT (`?token=`).

Sets `scope["user"]` to the token's user, or AnonymousUser when the query has no valid token;
the consumer then waits for an `authenticate` frame or closes with 4401 (CONTRACT.md). Also the
origin check in front of it (`OriginCheck`).
"""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken


def user_for_token(raw: str):
    """The active user an access token names, or None for anything else."""
    try:
        token = AccessToken(raw)
    except TokenError:
        return None
    user_id = token.get("user_id")
    if not user_id:
        return None
    return get_user_model().objects.filter(id=user_id, is_active=True).first()


class JWTAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        token = (query.get("token") or [""])[0]
        user = await database_sync_to_async(user_for_token)(token) if token else None
        scope = dict(scope, user=user or AnonymousUser(), token_rejected=bool(token and not user))
        return await self.inner(scope, receive, send)


class OriginCheck(OriginValidator):
    """Refuses a handshake whose `Origin` is outside `ALLOWED_HOSTS` (CONTRACT.md), read at each
    connection. A handshake without an `Origin` passes: browsers always send one (that is what
    the check protects), while native apps and server-side clients send none and authenticate
    with their token like any API client."""

    def __init__(self, application):
        super().__init__(application, [])

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        if scope["type"] == "websocket" and b"origin" not in headers:
            return await self.application(scope, receive, send)
        allowed = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not allowed:
            allowed = ["localhost", "127.0.0.1", "[::1]"]
        self.allowed_origins = allowed
        return await super().__call__(scope, receive, send)
