"""Every write to consultants goes through here: one function, one transaction each.

Locking: a profile row is taken with `select_for_update()` by the function that changes its
verification or availability, so an operator's decision and the consultant's own toggle never
interleave (the `consultant_online_only_if_verified` constraint would refuse the bad outcome
anyway; the lock turns it into a clean answer). The consultations app sets `is_busy` under its
own lock on the same row.
"""

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from rest_framework import serializers

from accounts.models import User
from config.errors import PayloadTooLarge, PermissionDenied
from consultants.errors import ConsultantNotVerified, DocumentQuotaExceeded
from consultants.models import (
    RATE_FIELD,
    Category,
    Channel,
    ConsultantDocument,
    ConsultantProfile,
    VerificationDecision,
    search_text,
)

# What the profile's owner may change (rates are given as a whole `{chat, voice, video}`).
EDITABLE_FIELDS = {"bio", "category", "specializations", "languages", "experience_years"}

# Magic bytes -> (content type, file suffix). The client's own content type is never trusted.
_SIGNATURES = [
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
]


def category_by_slug(slug: str) -> Category:
    try:
        return Category.objects.get(slug=slug)
    except Category.DoesNotExist:
        raise serializers.ValidationError({"category": ["Unknown category."]}) from None


def create_profile(*, user: User, category_slug: str | None = None) -> ConsultantProfile:
    """The profile of a consultant who just registered: unverified, offline, no rates yet.

    Runs inside the registration's transaction; an unknown category slug raises a 400
    `invalid` (`fields.category`) that rolls the registration back. A consultant may register
    without a category (it stays null until they set it). Idempotent per user.
    """
    category = category_by_slug(category_slug) if category_slug else None
    profile, created = ConsultantProfile.objects.get_or_create(
        user=user, defaults={"category": category}
    )
    if not created and category is not None and profile.category_id is None:
        profile.category = category
        profile.save(update_fields=["category", "updated_at"])
    return profile


def profile_for(*, user: User) -> ConsultantProfile:
    """The consultant's own profile, made on first use for consultants created outside the API
    (the admin, `createsuperuser`, fixtures)."""
    if not user.is_consultant:
        raise PermissionDenied("Only consultants have a consultant profile.")
    profile, _ = ConsultantProfile.objects.select_related("user", "category").get_or_create(
        user=user
    )
    return profile


def refresh_search_text(*, user: User) -> None:
    """Copies a consultant's (new) name into their profile's `search_text`. No lock needed: a
    profile edit running meanwhile recomputes the column from the fresh user row itself."""
    profile = ConsultantProfile.objects.filter(user=user).only("bio", "specializations").first()
    if profile is not None:
        text = search_text(user.name, profile.bio, profile.specializations)
        ConsultantProfile.objects.filter(pk=profile.pk).update(search_text=text)


@transaction.atomic
def update_profile(*, profile: ConsultantProfile, changes: Mapping[str, Any]) -> ConsultantProfile:
    """Applies validated `changes` (see `EDITABLE_FIELDS`, plus `rates`) to the profile.

    `rates` replaces all three channels at once: a channel missing from it, or null, is no
    longer offered. A price change never touches a consultation already under way: those fixed
    their `rate_per_minute` when they were created.
    """
    profile = ConsultantProfile.objects.select_for_update().get(pk=profile.pk)
    for name, value in changes.items():
        if name == "rates":
            for channel in Channel:
                setattr(profile, RATE_FIELD[channel], value.get(channel.value))
        elif name in EDITABLE_FIELDS:
            setattr(profile, name, value)
        else:
            raise ValueError(f"{name} is not editable")
    _check_rates(profile)
    profile.save()
    return ConsultantProfile.objects.select_related("user", "category").get(pk=profile.pk)


def _check_rates(profile: ConsultantProfile) -> None:
    cap = settings.MAX_RATE_PER_MINUTE
    bad = [
        f"{channel.value}: a rate is an integer of paise per minute from 1 to {cap}."
        for channel in Channel
        if (rate := profile.rate_for(channel)) is not None
        and (isinstance(rate, bool) or not isinstance(rate, int) or not 1 <= rate <= cap)
    ]
    if bad:
        raise serializers.ValidationError({"rates": bad})


@transaction.atomic
def set_availability(*, profile: ConsultantProfile, is_online: bool) -> ConsultantProfile:
    """Turns the consultant on- or offline. Only a verified consultant may go online.

    Going offline ends nothing: an open consultation carries on, and billing's presence rules
    (the WebSocket, not this flag) decide what happens to it. It only stops new requests.
    """
    profile = (
        # of=self: the category join is nullable, and only the profile row needs the lock.
        ConsultantProfile.objects.select_for_update(of=("self",))
        .select_related("user", "category")
        .get(pk=profile.pk)
    )
    if is_online and not profile.is_verified:
        raise ConsultantNotVerified("Only a verified consultant can go online.")
    if profile.is_online != is_online:
        profile.is_online = is_online
        profile.save(update_fields=["is_online", "updated_at"])
    return profile


@transaction.atomic
def decide_verification(
    *,
    profile: ConsultantProfile,
    decided_by: User | None,
    is_verified: bool,
    reason: str = "",
    via: str = "api",
) -> ConsultantProfile:
    """An operator verifies or rejects (unverifies) a consultant, and the audit row says so.

    Rejecting needs a reason. Unverifying an online consultant takes them offline (the
    database refuses an unverified consultant online); a consultation already under way is not
    ended by it. Every decision is recorded, a repeated one too: the audit is of decisions.
    """
    reason = (reason or "").strip()
    if not is_verified and not reason:
        raise serializers.ValidationError({"reason": ["A reason is required to reject."]})
    profile = (
        # of=self: the category join is nullable, and only the profile row needs the lock.
        ConsultantProfile.objects.select_for_update(of=("self",))
        .select_related("user", "category")
        .get(pk=profile.pk)
    )
    now = timezone.now()
    profile.is_verified = is_verified
    profile.verified_at = now if is_verified else None
    if not is_verified:
        profile.is_online = False
    profile.save(update_fields=["is_verified", "verified_at", "is_online", "updated_at"])
    VerificationDecision.objects.create(
        profile=profile, decided_by=decided_by, is_verified=is_verified, reason=reason, via=via
    )
    return profile


def sniff_content_type(head: bytes) -> tuple[str, str] | None:
    """(content type, suffix) from a file's first bytes, or None for anything not accepted."""
    for magic, content_type, suffix in _SIGNATURES:
        if head.startswith(magic):
            return content_type, suffix
    return None


def add_document(
    *, profile: ConsultantProfile, kind: str, upload: UploadedFile
) -> ConsultantDocument:
    """Stores an identity or qualification document privately for the operators to review.

    Size is capped by `MAX_UPLOAD_BYTES` (413 `payload_too_large`); the type is read from the
    file's own first bytes (PDF, PNG, JPEG), never from the client's claim. The stored name is
    random; the client's file name is kept only as a label.

    Each consultant may keep `DOCUMENTS_MAX_COUNT` documents of `DOCUMENTS_MAX_TOTAL_BYTES` in
    all (409 `document_quota_exceeded`), checked under the profile's row lock so concurrent
    uploads cannot pass it together. The file is written inside the (outermost, durable)
    transaction that records it; if that transaction fails, the file is removed: a rolled-back
    upload leaves nothing on disk.
    """
    if upload.size is None or upload.size > settings.MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(f"A document may be at most {settings.MAX_UPLOAD_BYTES} bytes.")
    if upload.size == 0:
        raise serializers.ValidationError({"file": ["The file is empty."]})
    upload.seek(0)
    sniffed = sniff_content_type(upload.read(16))
    if sniffed is None:
        raise serializers.ValidationError({"file": ["Upload a PDF, PNG or JPEG file."]})
    content_type, suffix = sniffed
    written: list[str] = []
    document = ConsultantDocument(
        kind=kind,
        original_name=(upload.name or "")[:255],
        content_type=content_type,
        size=upload.size,
    )
    try:
        with transaction.atomic(durable=True):
            profile = ConsultantProfile.objects.select_for_update().get(pk=profile.pk)
            _check_document_quota(profile=profile, adding=upload.size)
            document.profile = profile
            upload.seek(0)
            document.file.save(f"document{suffix}", upload, save=False)
            if document.file.name:  # always, once saved: the name the storage chose
                written.append(document.file.name)
            document.save()
    except BaseException:
        for name in written:
            document.file.storage.delete(name)
        raise
    return document


def _check_document_quota(*, profile: ConsultantProfile, adding: int) -> None:
    totals = profile.documents.aggregate(count=Count("id"), size=Sum("size"))
    count, size = totals["count"], totals["size"] or 0
    if count >= settings.DOCUMENTS_MAX_COUNT:
        raise DocumentQuotaExceeded(
            f"At most {settings.DOCUMENTS_MAX_COUNT} documents per consultant."
        )
    if size + adding > settings.DOCUMENTS_MAX_TOTAL_BYTES:
        raise DocumentQuotaExceeded(
            f"Documents may take at most {settings.DOCUMENTS_MAX_TOTAL_BYTES} bytes in all "
            f"({size} used)."
        )
