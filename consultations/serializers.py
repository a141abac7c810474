"""The contract's `consultation` object, shared by the API and the real-time frames."""

from datetime import UTC

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField

from accounts.api import BirthDetailsSerializer
from consultants.models import Channel
from consultations.models import Consultation, EndReason, Kind, Status
from consultations.privacy import reads_client_birth_details


@extend_schema_field(BirthDetailsSerializer(allow_null=True))
class ClientBirthDetailsField(serializers.Field):
    """`client_birth_details`: present only when the reader (`context["reader_id"]`) is the
    consultation's astrologer (consultations/privacy.py); absent, not null, for anyone else."""

    def __init__(self, **kwargs):
        super().__init__(source="*", required=False, allow_null=True, **kwargs)

    def get_attribute(self, consultation: Consultation):
        if not reads_client_birth_details(
            consultation=consultation, reader_id=self.context.get("reader_id")
        ):
            raise SkipField()
        return consultation.client.birth_details

    def to_representation(self, value):
        return value

    def to_internal_value(self, data):  # pragma: no cover - never read from input
        raise NotImplementedError


class ConsultationSerializer(serializers.ModelSerializer):
    """`consultation` (CONTRACT.md): timestamps in UTC, money in paise."""

    client_id = serializers.UUIDField(read_only=True)
    consultant_id = serializers.UUIDField(read_only=True)
    channel = serializers.ChoiceField(choices=Channel.choices, read_only=True)
    status = serializers.ChoiceField(choices=Status.choices, read_only=True)
    kind = serializers.ChoiceField(
        choices=Kind.choices,
        read_only=True,
        help_text="`instant`: billed by the second. `booked`: opened by a scheduled booking, "
        "paid up front, never billed by the second (rate 0).",
    )
    booking_id = serializers.UUIDField(
        read_only=True, allow_null=True, help_text="The booking of a `booked` consultation."
    )
    rate_per_minute = serializers.IntegerField(
        read_only=True, help_text="Paise per minute, fixed when it was created (booked: 0)."
    )
    requested_at = serializers.DateTimeField(read_only=True, default_timezone=UTC)
    started_at = serializers.DateTimeField(read_only=True, default_timezone=UTC, allow_null=True)
    ended_at = serializers.DateTimeField(read_only=True, default_timezone=UTC, allow_null=True)
    billed_seconds = serializers.IntegerField(read_only=True)
    total_amount = serializers.IntegerField(read_only=True, help_text="Paise charged so far.")
    end_reason = serializers.ChoiceField(choices=EndReason.choices, read_only=True, allow_null=True)
    client_birth_details = ClientBirthDetailsField(
        help_text="The client's birth details: only for the consultation's own astrologer "
        "(category `astrology`) while it is pending, active or ended; absent otherwise."
    )

    class Meta:
        model = Consultation
        fields = [
            "id",
            "client_id",
            "consultant_id",
            "channel",
            "status",
            "kind",
            "booking_id",
            "rate_per_minute",
            "requested_at",
            "started_at",
            "ended_at",
            "billed_seconds",
            "total_amount",
            "end_reason",
            "client_birth_details",
        ]
        read_only_fields = fields


class EndedConsultationSerializer(ConsultationSerializer):
    """The answer to `end`: the final figures and the client's wallet balance."""

    remaining_balance = serializers.IntegerField(
        read_only=True, help_text="The client's wallet balance in paise after the final charge."
    )

    class Meta(ConsultationSerializer.Meta):
        fields = [*ConsultationSerializer.Meta.fields, "remaining_balance"]
        read_only_fields = fields


def consultation_frame_data(consultation: Consultation, *, reader_id=None) -> dict:
    """The `consultation` object as plain JSON types, for channel-layer frames. With
    `reader_id`, as that user reads it (a frame to that user only)."""
    return dict(ConsultationSerializer(consultation, context={"reader_id": reader_id}).data)
