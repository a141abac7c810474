"""Users: email is the login, `role` decides what a user may do, ids are UUIDs.

Emails are stored normalised (`normalize_email`: NFKC, case-folded, trimmed) and every lookup
normalises the same way, so look-alike spellings (`ſ` for `s`, full-width letters) find one
account or none, never a second one.
"""

import unicodedata
import uuid
from collections.abc import Collection
from typing import Any, Self

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

BIRTH_PLACE_MAX_CHARS = 200


class Role(models.TextChoices):
    CLIENT = "client", "Client"
    CONSULTANT = "consultant", "Consultant"
    ADMIN = "admin", "Admin"


def normalize_email(value: str) -> str:
    """The one form of an email address used to store, look up and count logins: Unicode NFKC,
    then case-folded (`ß` -> `ss`, `ſ` -> `s`), NFKC again (folding can undo it), trimmed."""
    folded = unicodedata.normalize("NFKC", value).strip().casefold()
    return unicodedata.normalize("NFKC", folded).strip()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **fields):
        if not email:
            raise ValueError("An email is required")
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields):
        fields.setdefault("role", Role.CLIENT)
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields):
        fields.update(role=Role.ADMIN, is_staff=True, is_superuser=True)
        return self._create_user(email, password, **fields)

    # Django's backends call it only with a string (ModelBackend returns early on None).
    def get_by_natural_key(self, username: str):  # type: ignore[override]
        return self.get(email=normalize_email(username))


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254, unique=True)
    name = models.CharField(max_length=150)
    phone = models.CharField(max_length=20, blank=True, default="")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CLIENT)
    mfa_secret = models.CharField(max_length=64, blank=True, default="")
    # A new secret asked for while MFA is on (re-setup): it replaces `mfa_secret` only once a
    # code of it is given (`mfa/enable`), so an abandoned re-setup never locks the user out.
    mfa_pending_secret = models.CharField(max_length=64, blank=True, default="")
    mfa_enabled = models.BooleanField(default=False)
    # The TOTP time step of the last one-time code accepted: a code is good once (RFC 6238 5.2).
    mfa_last_counter = models.BigIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Birth details (CONTRACT.md `birth_details`): what an astrologer needs, filled in by the
    # client. Private: shown to the user, and to an astrologer only inside their own
    # consultations with this client (consultations.selectors.client_birth_details_for).
    birth_date = models.DateField(null=True, blank=True)
    birth_time = models.TimeField(null=True, blank=True)
    birth_place = models.CharField(max_length=BIRTH_PLACE_MAX_CHARS, blank=True, default="")

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ci"),
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="user_role_known"
            ),
            models.CheckConstraint(
                condition=models.Q(birth_date__isnull=False)
                | models.Q(birth_time__isnull=True, birth_place=""),
                name="birth_details_need_a_date",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    # Set by from_db on users read from the database (absent on a user being made: see save).
    _loaded_is_active: bool | None
    # AbstractBaseUser's: the new raw password until the save (None when there is none).
    _password: str | None

    @classmethod
    def from_db(cls, db: str | None, field_names: Collection[str], values: Collection[Any]) -> Self:
        user = super().from_db(db, field_names, values)
        user._loaded_is_active = user.__dict__.get("is_active")
        return user

    def save(self, *args, **kwargs) -> None:
        """Saving a new password (`set_password`; not the hash upgrade at a login, which Django
        does not mark as one) or a deactivation of a user read from the database ends every
        session of theirs: refresh tokens revoked, sockets closed
        (`accounts.services.end_sessions`), whoever saves it: the admin, `changepassword`, a
        page's password form. (A user still being made, as factories do, has none to end.)"""
        loaded = hasattr(self, "_loaded_is_active")
        ending = loaded and (
            self._password is not None or (self._loaded_is_active and not self.is_active)
        )
        super().save(*args, **kwargs)
        if loaded:
            self._loaded_is_active = self.is_active
        if ending:
            from accounts.services import end_sessions

            end_sessions(user=self)

    @property
    def public_name(self) -> str:
        """The name strangers see (a review's author): the first name and the initial of the
        last, "Asha Verma" -> "Asha V."; clients of health and legal consultants stay private."""
        parts = self.name.split()
        if not parts:
            return ""
        if len(parts) == 1:
            return parts[0]
        return f"{parts[0]} {parts[-1][0].upper()}."

    @property
    def birth_details(self) -> dict | None:
        """CONTRACT.md `birth_details`: `{date, time, place}` or None."""
        if self.birth_date is None:
            return None
        return {
            "date": self.birth_date.isoformat(),
            "time": self.birth_time.strftime("%H:%M") if self.birth_time is not None else None,
            "place": self.birth_place or None,
        }

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_consultant(self) -> bool:
        return self.role == Role.CONSULTANT

    @property
    def is_client(self) -> bool:
        return self.role == Role.CLIENT


class RefreshTokenLineage(models.Model):
    """Which sign-in a refresh token descends from (one row per refresh token issued).

    Every token rotated from one login shares its `family`. Rotation uses a token once, so a
    family is a chain: presenting a used token again (a thief's copy, or the owner's after a
    thief used it) kills every live token of the family (`accounts.services.refresh_tokens`).
    `signed_in_at` is when the family's login happened: no rotation carries a session past
    `JWT_SESSION_MAX_DAYS` after it.
    """

    token = models.OneToOneField(
        OutstandingToken, on_delete=models.CASCADE, primary_key=True, related_name="lineage"
    )
    family = models.UUIDField(db_index=True)
    signed_in_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.family} (since {self.signed_in_at:%Y-%m-%d %H:%M})"
