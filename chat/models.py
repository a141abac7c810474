"""Chat messages of a consultation.

Design overview
---------------
* A `Message` belongs to one consultation and one sender (a participant). It is stored before it
  is broadcast, with the `client_msg_id` its sender's device made: the pair is unique per sender
  and consultation (`message_client_msg_id_unique_per_sender`), so a resend finds the first row
  instead of storing a second one.
* `status` only moves forward, `sent` -> `delivered` -> `seen`: every change is an UPDATE
  filtered on the lower states (`chat.services`), never a blind save, and the database refuses a
  status it does not know (`message_status_known`) or a `seen` message without its timestamps.
* History is read newest first by `(consultation, created_at)`, with the id as the tie-breaker.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

MAX_BODY_CHARS = 4000


class MessageStatus(models.TextChoices):
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    SEEN = "seen", "Seen"


class Message(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    consultation = models.ForeignKey(
        "consultations.Consultation", on_delete=models.CASCADE, related_name="messages"
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sent_messages"
    )
    client_msg_id = models.UUIDField()
    body = models.TextField(max_length=MAX_BODY_CHARS)
    # Same consultation only: checked by the service (a foreign key cannot say it).
    reply_to = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replies"
    )
    status = models.CharField(
        max_length=10, choices=MessageStatus.choices, default=MessageStatus.SENT
    )
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["consultation", "sender", "client_msg_id"],
                name="message_client_msg_id_unique_per_sender",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in MessageStatus]),
                name="message_status_known",
            ),
            models.CheckConstraint(
                condition=~Q(status="seen") | Q(seen_at__isnull=False, delivered_at__isnull=False),
                name="message_seen_has_timestamps",
            ),
            models.CheckConstraint(
                condition=~Q(status="delivered") | Q(delivered_at__isnull=False),
                name="message_delivered_has_timestamp",
            ),
        ]
        indexes = [
            models.Index(fields=["consultation", "created_at"], name="message_history"),
        ]

    def __str__(self) -> str:
        return f"message {self.id} ({self.status})"
