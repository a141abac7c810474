"""The contract's `consultation` object, shared by the API and the real-time frames."""

from datetime import UTC

from rest_framework import serializers

from consultants.models import Channel
from consultations.models import Consultation, EndReason, Kind, Status


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


def consultation_frame_data(consultation: Consultation) -> dict:
    """The `consultation` object as plain JSON types, for channel-layer frames."""
    return dict(ConsultationSerializer(consultation).data)
