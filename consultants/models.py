"""Consultants: categories, profiles with per-channel rates, verification audit, documents.

Design overview
---------------

* A `Category` is data (operators add them in the admin); the five of the contract are seeded
  by a data migration. Its public identifier is its `slug`.
* A `ConsultantProfile` belongs to one consultant user. Its `id` (a UUID) is the contract's
  `consultant_id`. Rates are paise per minute, one nullable column per channel: a null rate
  means the channel is not offered. `min_rate` (the cheapest offered channel) is derived from
  the three and kept in step by `save()`, so discovery can filter and sort on one indexed
  column.
* `specializations` and `languages` are JSON lists as the consultant wrote them; their
  lower-cased copies `specializations_key` / `languages_key` (`|hindi|english|`) are what the
  filters match, with a plain `LIKE '%|hindi|%'` that works on SQLite and PostgreSQL alike
  (JSON containment does not exist on SQLite); on PostgreSQL trigram indexes serve them.
  `search_text` is the lower-cased name, bio and specializations in one column, so `search=`
  is one indexed `LIKE` on the profile table, with no join; the user's name is copied in when
  the profile is saved and when the user is (consultants/receivers.py).
* `is_online` can only be true for a verified consultant (`consultant_online_only_if_verified`).
  `is_busy` is set by the consultations app while a consultation is pending or active.
* Every verification decision writes a `VerificationDecision` row: who, when, what, why.
* `ConsultantDocument` files live in a `FileSystemStorage` rooted at
  `settings.PRIVATE_MEDIA_ROOT`, which no URL serves; staff download them through the admin.
"""

import os
import secrets
import uuid
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    CHAT = "chat", _("Chat")
    VOICE = "voice", _("Voice")
    VIDEO = "video", _("Video")


RATE_FIELD = {
    Channel.CHAT: "rate_chat",
    Channel.VOICE: "rate_voice",
    Channel.VIDEO: "rate_video",
}


class Category(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The name in the reader's language (the five seeded ones are in the catalogue)."""
        return gettext(self.name)


# The categories seeded by migration 0002, for the catalogue (Category.label translates them).
SEEDED_CATEGORY_NAMES = [
    gettext_noop("Legal"),
    gettext_noop("Astrology"),
    gettext_noop("Coaching"),
    gettext_noop("Health"),
    gettext_noop("Finance"),
]


def validate_rate(value: int) -> None:
    """1 to `settings.MAX_RATE_PER_MINUTE` paise a minute (read at use: the cap is a setting)."""
    if not 1 <= value <= settings.MAX_RATE_PER_MINUTE:
        raise ValidationError(
            f"A rate is from 1 to {settings.MAX_RATE_PER_MINUTE} paise per minute.",
            code="rate_out_of_range",
        )


def validate_tags(value: Any) -> None:
    """A list of at most 20 distinct non-empty strings of at most 50 characters, without `|`
    (the API checks the same; this guards the admin form)."""
    if not isinstance(value, list) or len(value) > 20:
        raise ValidationError("A list of at most 20 items is required.", code="invalid_list")
    for item in value:
        if not isinstance(item, str) or not item.strip() or len(item) > 50 or "|" in item:
            raise ValidationError(
                "Each item is a non-empty text of at most 50 characters, without '|'.",
                code="invalid_item",
            )
    folded = [item.strip().casefold() for item in value]
    if len(set(folded)) != len(folded):
        raise ValidationError("Items must not repeat.", code="duplicate_item")


def search_text(name: str, bio: str, specializations: list[str]) -> str:
    """What `search=` matches: name, bio and specializations, lower-cased, one per line."""
    tags = " | ".join(str(item) for item in specializations or [])
    return "\n".join([name or "", bio or "", tags]).lower()


def _key(items: list[str]) -> str:
    """`["Hindi", "English"]` -> `|hindi|english|`: what the list filters match."""
    cleaned = [str(item).strip().lower() for item in items or [] if str(item).strip()]
    return "|" + "|".join(cleaned) + "|" if cleaned else ""


VERIFIED = Q(is_verified=True)


class ConsultantProfile(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consultant_profile"
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        related_name="consultants",
        null=True,
        blank=True,
    )
    bio = models.TextField(max_length=4000, blank=True, default="")
    specializations = models.JSONField(default=list, blank=True, validators=[validate_tags])
    languages = models.JSONField(default=list, blank=True, validators=[validate_tags])
    specializations_key = models.TextField(blank=True, default="", editable=False)
    languages_key = models.TextField(blank=True, default="", editable=False)
    search_text = models.TextField(blank=True, default="", editable=False)
    experience_years = models.PositiveSmallIntegerField(default=0)

    # Paise per minute; null = the channel is not offered.
    rate_chat = models.BigIntegerField(null=True, blank=True, validators=[validate_rate])
    rate_voice = models.BigIntegerField(null=True, blank=True, validators=[validate_rate])
    rate_video = models.BigIntegerField(null=True, blank=True, validators=[validate_rate])
    min_rate = models.BigIntegerField(null=True, blank=True, editable=False)

    is_verified = models.BooleanField(default=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    is_online = models.BooleanField(default=False)
    is_busy = models.BooleanField(default=False)
    rating = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal("0.00"))
    rating_count = models.PositiveIntegerField(default=0)
    total_sessions = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(rate_chat__isnull=True) | Q(rate_chat__gt=0))
                & (Q(rate_voice__isnull=True) | Q(rate_voice__gt=0))
                & (Q(rate_video__isnull=True) | Q(rate_video__gt=0)),
                name="consultant_rates_positive",
            ),
            models.CheckConstraint(
                condition=Q(is_online=False) | Q(is_verified=True),
                name="consultant_online_only_if_verified",
            ),
            models.CheckConstraint(
                condition=Q(rating__gte=0) & Q(rating__lte=5),
                name="consultant_rating_between_0_and_5",
            ),
            models.CheckConstraint(
                condition=Q(experience_years__lte=80),
                name="consultant_experience_at_most_80_years",
            ),
        ]
        # Partial indexes for discovery, which only ever reads verified consultants. The
        # PostgreSQL-only trigram indexes (search, language, specialization) are in a migration.
        indexes = [
            models.Index(
                fields=["-rating", "-id"], name="consultant_disc_rating", condition=VERIFIED
            ),
            models.Index(
                fields=["category", "-rating", "-id"],
                name="consultant_disc_category",
                condition=VERIFIED,
            ),
            models.Index(
                fields=["is_online", "-rating", "-id"],
                name="consultant_disc_online",
                condition=VERIFIED,
            ),
            models.Index(
                fields=["min_rate", "id"], name="consultant_disc_min_rate", condition=VERIFIED
            ),
            models.Index(
                fields=["rate_chat", "id"], name="consultant_disc_rate_chat", condition=VERIFIED
            ),
            models.Index(
                fields=["rate_voice", "id"], name="consultant_disc_rate_voice", condition=VERIFIED
            ),
            models.Index(
                fields=["rate_video", "id"], name="consultant_disc_rate_video", condition=VERIFIED
            ),
            models.Index(
                fields=["experience_years", "id"],
                name="consultant_disc_experience",
                condition=VERIFIED,
            ),
            models.Index(
                fields=["total_sessions", "id"], name="consultant_disc_sessions", condition=VERIFIED
            ),
            models.Index(
                fields=["rating_count", "id"],
                name="consultant_disc_rating_count",
                condition=VERIFIED,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user.name} <{self.user.email}>"

    def save(self, *args, **kwargs):
        # Derived columns only (no rules): whoever writes rates or lists, the admin included,
        # keeps the filter columns true. Callers passing update_fields get them too.
        self.refresh_derived_fields()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            derived = {"min_rate", "specializations_key", "languages_key", "search_text"}
            kwargs["update_fields"] = set(update_fields) | derived
        super().save(*args, **kwargs)

    def rate_for(self, channel: str) -> int | None:
        """Paise per minute for `channel` (`chat`, `voice`, `video`); None = not offered."""
        field = RATE_FIELD.get(channel)  # type: ignore[call-overload]
        return getattr(self, field) if field else None

    @property
    def rates(self) -> dict[str, int]:
        """The offered channels and their rates, e.g. `{"chat": 2000, "video": 5000}`."""
        offered = {channel.value: self.rate_for(channel) for channel in Channel}
        return {channel: rate for channel, rate in offered.items() if rate is not None}

    def refresh_derived_fields(self) -> None:
        offered = [r for r in (self.rate_chat, self.rate_voice, self.rate_video) if r is not None]
        self.min_rate = min(offered) if offered else None
        self.specializations_key = _key(self.specializations)
        self.languages_key = _key(self.languages)
        self.search_text = search_text(self.user.name, self.bio, self.specializations)


class VerificationDecision(models.Model):
    """The audit row of one operator decision on a consultant: who, when, what, why."""

    profile = models.ForeignKey(
        ConsultantProfile, on_delete=models.CASCADE, related_name="verification_decisions"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    is_verified = models.BooleanField()
    reason = models.TextField(max_length=1000, blank=True, default="")
    via = models.CharField(max_length=16, default="api")  # api | admin
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{'verified' if self.is_verified else 'rejected'} {self.created_at:%Y-%m-%d}"


class PrivateStorage(FileSystemStorage):
    """Files under `settings.PRIVATE_MEDIA_ROOT` (read at use, so tests can move it), which no
    URL serves: `url()` refuses."""

    @property
    def base_location(self) -> str:
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name: str | None) -> str:
        raise ValueError("Private documents have no URL; staff download them in the admin.")


def private_storage() -> FileSystemStorage:
    return PrivateStorage()


def document_path(instance: "ConsultantDocument", filename: str) -> str:
    # A random name: the client's file name never reaches the file system.
    suffix = PurePath(filename).suffix.lower()[:8]
    return f"consultant-documents/{secrets.token_hex(16)}{suffix}"


class DocumentKind(models.TextChoices):
    IDENTITY = "identity", _("Identity")
    QUALIFICATION = "qualification", _("Qualification")


class ConsultantDocument(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    profile = models.ForeignKey(
        ConsultantProfile, on_delete=models.CASCADE, related_name="documents"
    )
    kind = models.CharField(max_length=16, choices=DocumentKind.choices)
    file = models.FileField(storage=private_storage, upload_to=document_path, max_length=200)
    original_name = models.CharField(max_length=255, blank=True, default="")
    content_type = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.original_name or self.file.name}"
