"""WebSocket authentication: the access JWT (`?token=`) or, for the site's own pages, the
Django session cookie.

Sets `scope["user"]` to the token's user; without a token, to the session's user when the
handshake carries the session cookie AND an `Origin` (a browser's page: `OriginCheck` in front
has already refused an origin outside ALLOWED_HOSTS, so another site cannot ride the cookie);
else AnonymousUser, and the consumer waits for an `authenticate` frame or closes with 4401
(CONTRACT.md). A token that does not verify is refused even if a session would have passed.
A token is checked as the API checks it (signature, expiry, an active user, the password it was
issued under), and `scope["token_expires_at"]` carries its expiry (Unix time): the consumer
closes the socket then, unless a fresh token came in an `authenticate` frame.
"""

from http.cookies import SimpleCookie
from importlib import import_module
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    load_backend,
)
from django.contrib.auth.models import AnonymousUser
from django.utils.crypto import constant_time_compare
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError


def authenticate_token(raw: str):
    """(user, expiry as Unix time) for an access token the API would accept (signature, expiry,
    an active user, the password it was issued under), or None for anything else."""
    auth = JWTAuthentication()
    try:
        # simplejwt annotates the raw token as bytes; PyJWT decodes str as well.
        token = auth.get_validated_token(raw)  # type: ignore[arg-type]
        user = auth.get_user(token)
    except (InvalidToken, TokenError, AuthenticationFailed, ValueError):
        return None
    return user, float(token["exp"])


def user_for_token(raw: str):
    """The active user an access token names, or None for anything else."""
    found = authenticate_token(raw)
    return found[0] if found else None


def user_for_session(session_key: str):
    """The active user a Django session is signed in as (the same checks as
    `django.contrib.auth.get_user`: a known backend, and the password hash the session was made
    with, so changing the password signs the socket out too), or None."""
    engine = import_module(settings.SESSION_ENGINE)
    session = engine.SessionStore(session_key)
    user_id = session.get(SESSION_KEY)
    backend_path = session.get(BACKEND_SESSION_KEY)
    if user_id is None or backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    user = load_backend(backend_path).get_user(user_id)
    if user is None or not user.is_active:
        return None
    if not constant_time_compare(session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()):
        return None
    return user


def _session_key(headers: dict) -> str | None:
    """The session cookie of a browser handshake (one with an `Origin`), or None."""
    if b"origin" not in headers or b"cookie" not in headers:
        return None
    cookies = SimpleCookie()
    try:
        cookies.load(headers[b"cookie"].decode("latin-1"))
    except Exception:  # noqa: BLE001 - a malformed Cookie header signs nobody in
        return None
    morsel = cookies.get(settings.SESSION_COOKIE_NAME)
    return morsel.value if morsel and morsel.value else None


class JWTAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        token = (query.get("token") or [""])[0]
        found = await database_sync_to_async(authenticate_token)(token) if token else None
        user, expires_at = found if found else (None, None)
        if not token:
            session_key = _session_key(dict(scope.get("headers", [])))
            if session_key:
                user = await database_sync_to_async(user_for_session)(session_key)
        scope = dict(
            scope,
            user=user or AnonymousUser(),
            token_rejected=bool(token and not user),
            token_expires_at=expires_at,  # None for a session's socket: no token to expire
        )
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
