"""The contract's `message` object, shared by the history API and the real-time frames."""

from datetime import UTC

from rest_framework import serializers

from chat.models import Message, MessageStatus


class MessageSerializer(serializers.ModelSerializer):
    """`message` (CONTRACT.md): `session_id` is the consultation's id; timestamps in UTC."""

    session_id = serializers.UUIDField(source="consultation_id", read_only=True)
    sender_id = serializers.UUIDField(read_only=True)
    reply_to = serializers.UUIDField(source="reply_to_id", read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=MessageStatus.choices, read_only=True)
    created_at = serializers.DateTimeField(read_only=True, default_timezone=UTC)
    delivered_at = serializers.DateTimeField(read_only=True, default_timezone=UTC, allow_null=True)
    seen_at = serializers.DateTimeField(read_only=True, default_timezone=UTC, allow_null=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "session_id",
            "sender_id",
            "body",
            "reply_to",
            "status",
            "created_at",
            "delivered_at",
            "seen_at",
        ]
        read_only_fields = fields


def message_data(message: Message) -> dict:
    """The `message` object as plain JSON types, for frames."""
    return dict(MessageSerializer(message).data)
