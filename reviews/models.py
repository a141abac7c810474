"""Reviews: one per consultation that took place, by its client.

The consultant's `rating` (average, 2 decimals, rounded half up) and `rating_count` are
recomputed from the reviews in the transaction that writes one, under the consultant profile's
row lock (`reviews.services.create_review`), so concurrent reviews never lose an update.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

MAX_COMMENT_LENGTH = 2000


class Review(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    consultation = models.ForeignKey(
        "consultations.Consultation", on_delete=models.PROTECT, related_name="reviews"
    )
    consultant = models.ForeignKey(
        "consultants.ConsultantProfile", on_delete=models.PROTECT, related_name="reviews"
    )
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews"
    )
    rating = models.PositiveSmallIntegerField()
    comment = models.TextField(max_length=MAX_COMMENT_LENGTH, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["consultation"], name="review_one_per_consultation"),
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="rating_between_1_and_5"
            ),
        ]
        indexes = [
            models.Index(fields=["consultant", "-created_at"], name="review_consultant_time"),
        ]

    def __str__(self) -> str:
        return f"{self.rating}/5 for {self.consultation_id}"
