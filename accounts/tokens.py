"""JWTs: a refresh token and its access token carry `user_id` and `role` (CONTRACT.md "auth").

Every refresh token we issue is recorded as an `OutstandingToken` (simplejwt's blacklist app)
with its `RefreshTokenLineage` (the sign-in it descends from); rotating or logging out
blacklists it. Tokens also carry simplejwt's password claim (`CHECK_REVOKE_TOKEN`), so a new
password ends every access token issued before it. Checks that must be atomic live in
`accounts.services`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from django.conf import settings
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch, get_md5_hash_password

from accounts.models import RefreshTokenLineage, User


def session_ends_at(signed_in_at: datetime) -> datetime:
    """No token of a sign-in lives past this, however often it is rotated."""
    return signed_in_at + timedelta(days=settings.JWT_SESSION_MAX_DAYS)


class UserRefreshToken(RefreshToken):
    """A refresh token whose payload (and so its access token's) holds the user's role."""

    @classmethod
    def for_user(  # type: ignore[override]
        cls, user: User, *, family: UUID | None = None, signed_in_at: datetime | None = None
    ) -> "UserRefreshToken":
        """A token of a new sign-in, or (with `family` and `signed_in_at`) the next token of
        an existing one, whose expiry never passes the session's absolute end."""
        token = cls()
        signed_in_at = signed_in_at or token.current_time
        family = family or uuid4()
        token[api_settings.USER_ID_CLAIM] = str(user.id)
        token["role"] = user.role
        if api_settings.CHECK_REVOKE_TOKEN:
            token[api_settings.REVOKE_TOKEN_CLAIM] = get_md5_hash_password(user.password)
        end = session_ends_at(signed_in_at)
        if datetime_from_epoch(token["exp"]) > end:
            token.set_exp(from_time=end, lifetime=timedelta(0))
        # Recorded after every claim is set, so the stored text is the token handed out.
        outstanding = OutstandingToken.objects.create(
            user=user,
            jti=token[api_settings.JTI_CLAIM],
            token=str(token),
            created_at=token.current_time,
            expires_at=datetime_from_epoch(token["exp"]),
        )
        RefreshTokenLineage.objects.create(
            token=outstanding, family=family, signed_in_at=signed_in_at
        )
        return token

    @property
    def access_token(self):
        access = super().access_token
        # An access token outlives neither its refresh token nor the session.
        if access["exp"] > self["exp"]:
            access["exp"] = self["exp"]
        return access

    def check_blacklist(self) -> None:
        """Not here: `accounts.services.refresh_tokens` must see a used token (to kill its
        family), and checks the blacklist itself under a row lock."""


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


def issue_tokens(
    user: User, *, family: UUID | None = None, signed_in_at: datetime | None = None
) -> TokenPair:
    refresh = UserRefreshToken.for_user(user, family=family, signed_in_at=signed_in_at)
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


def decode_refresh(raw: str) -> tuple[str, UUID]:
    """The jti and the user id of a refresh token whose signature, expiry and type are good.
    Raises `TokenError` for anything else (a bad signature, an expired token, an access token,
    a missing claim). Whether it was used or logged out is for the caller to check."""
    try:
        # simplejwt annotates `token` as a Token, but decodes the encoded string it is given.
        token = UserRefreshToken(raw)  # type: ignore[arg-type]
        jti = str(token[api_settings.JTI_CLAIM])
        user_id = UUID(str(token[api_settings.USER_ID_CLAIM]))
    except (KeyError, ValueError) as exc:
        raise TokenError("Token has no valid user or id claim.") from exc
    return jti, user_id
