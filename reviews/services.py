"""Writing a review, and the consultant's rating with it, in one transaction."""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from accounts.models import User
from config.errors import InvalidState, NotFound
from consultants.models import ConsultantProfile
from consultations.models import FINISHED_STATUSES, Consultation
from reviews.errors import AlreadyReviewed
from reviews.models import MAX_COMMENT_LENGTH, Review

TWO_PLACES = Decimal("0.01")


def average_rating(*, total: int, count: int) -> Decimal:
    """THE rating rule: the mean of the ratings to 2 decimals, rounded half up; 0.00 if none."""
    if not count:
        return Decimal("0.00")
    return (Decimal(total) / Decimal(count)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def create_review(*, client: User, consultation_id, rating: int, comment: str = "") -> Review:
    """The client of an ended consultation reviews it, once.

    404 for a consultation that is not the caller's (or does not exist), 409 `invalid_state`
    unless `ended` or `force_ended`, 409 `already_reviewed` for a second review.

    Locks the consultant's profile row, then writes the review and recomputes `rating` and
    `rating_count` from all the consultant's reviews (an aggregate read under the lock, so two
    concurrent reviews of one consultant are counted both, never one over the other).
    """
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValueError("rating is an int from 1 to 5")
    if len(comment) > MAX_COMMENT_LENGTH:
        raise ValueError(f"a comment is at most {MAX_COMMENT_LENGTH} characters")
    try:
        pk = uuid.UUID(str(consultation_id))
    except ValueError:
        raise NotFound("No such consultation.") from None
    with transaction.atomic(durable=True):
        consultation = Consultation.objects.filter(id=pk, client=client).first()
        if consultation is None:
            raise NotFound("No such consultation.")
        if consultation.status not in FINISHED_STATUSES:
            raise InvalidState(
                f"Only an ended consultation can be reviewed; this one is {consultation.status}."
            )
        # The profile lock serializes the reviews of one consultant (and a double submit).
        profile = ConsultantProfile.objects.select_for_update().get(id=consultation.consultant_id)
        if Review.objects.filter(consultation=consultation).exists():
            raise AlreadyReviewed()
        try:
            with transaction.atomic():
                review = Review.objects.create(
                    consultation=consultation,
                    consultant=profile,
                    client=client,
                    rating=rating,
                    comment=comment,
                    created_at=timezone.now(),
                )
        except IntegrityError as exc:  # the constraint is the truth behind the check above
            if Review.objects.filter(consultation=consultation).exists():
                raise AlreadyReviewed() from exc
            raise
        figures = Review.objects.filter(consultant=profile).aggregate(
            total=Sum("rating"), count=Count("id")
        )
        # An UPDATE of the two columns only: the profile's other columns are not ours to write.
        ConsultantProfile.objects.filter(id=profile.id).update(
            rating=average_rating(total=figures["total"] or 0, count=figures["count"]),
            rating_count=figures["count"],
            updated_at=timezone.now(),
        )
    review.client = client
    return review
