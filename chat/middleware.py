"""WebSocket authentication with the access JWT (`?token=`).

Sets `scope["user"]` to the token's user, or AnonymousUser when the query has no valid token;
the consumer then waits for an `authenticate` frame or closes with 4401 (CONTRACT.md).
"""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
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
