"""JWTs: a refresh token and its access token carry `user_id` and `role` (CONTRACT.md "auth").

Every refresh token we issue is recorded as an `OutstandingToken` (simplejwt's blacklist app);
rotating or logging out blacklists it. Checks that must be atomic live in `accounts.services`.
"""

from dataclasses import dataclass
from uuid import UUID

from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts.models import User


class UserRefreshToken(RefreshToken):
    """A refresh token whose payload (and so its access token's) holds the user's role."""

    @classmethod
    def for_user(cls, user: User) -> "UserRefreshToken":
        token = cls()
        token[api_settings.USER_ID_CLAIM] = str(user.id)
        token["role"] = user.role
        # Recorded after every claim is set, so the stored text is the token handed out.
        OutstandingToken.objects.create(
            user=user,
            jti=token[api_settings.JTI_CLAIM],
            token=str(token),
            created_at=token.current_time,
            expires_at=datetime_from_epoch(token["exp"]),
        )
        return token


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


def issue_tokens(user: User) -> TokenPair:
    refresh = UserRefreshToken.for_user(user)
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


def decode_refresh(raw: str) -> tuple[str, UUID]:
    """The jti and the user id of a verified refresh token. Raises `TokenError` for anything else:
    a bad signature, an expired or blacklisted token, an access token, a missing claim."""
    try:
        token = UserRefreshToken(raw)  # verifies signature, expiry, type and the blacklist
        jti = str(token[api_settings.JTI_CLAIM])
        user_id = UUID(str(token[api_settings.USER_ID_CLAIM]))
    except (KeyError, ValueError) as exc:
        raise TokenError("Token has no valid user or id claim.") from exc
    return jti, user_id
