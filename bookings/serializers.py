"""The bookings app's objects as the API (and the `booking_updated` frame) show them."""

import json
from zoneinfo import available_timezones

from django.core.serializers.json import DjangoJSONEncoder
from drf_spectacular.utils import (
    PolymorphicProxySerializer,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers

from bookings.models import (
    MAX_DURATION_MINUTES,
    MAX_PRICE,
    MIN_DURATION_MINUTES,
    MIN_PRICE,
    Booking,
    Party,
    PaymentMethod,
    Schedule,
    SessionType,
    Status,
)
from consultants.models import Channel
from wallets.payments import checkout_fields


class SessionTypeSerializer(serializers.ModelSerializer):
    consultant_id = serializers.UUIDField(read_only=True)
    price = serializers.IntegerField(help_text="Paise.")
    currency = serializers.SerializerMethodField()

    class Meta:
        model = SessionType
        fields = [
            "id",
            "consultant_id",
            "title",
            "description",
            "channel",
            "duration_minutes",
            "price",
            "currency",
            "is_active",
        ]

    def get_currency(self, obj) -> str:
        return "INR"


class SessionTypeInputSerializer(serializers.Serializer):
    """What `POST` takes (and `PATCH`, every field optional). Checked by
    `bookings.schedules.create_session_type`."""

    title = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    channel = serializers.ChoiceField(choices=Channel.choices)
    duration_minutes = serializers.IntegerField(
        min_value=MIN_DURATION_MINUTES, max_value=MAX_DURATION_MINUTES
    )
    price = serializers.IntegerField(min_value=MIN_PRICE, max_value=MAX_PRICE, help_text="Paise.")


class WeeklyRangeSerializer(serializers.Serializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="0 = Monday.")
    # What bookings.schedules.HHMM takes (the schema's pattern; the service checks it).
    start = serializers.RegexField(
        r"^([01][0-9]|2[0-3]):[0-5][0-9]$", help_text="HH:MM, local time."
    )
    end = serializers.RegexField(
        r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$", help_text="HH:MM, local time; up to 24:00."
    )


@extend_schema_field(
    {
        "type": "string",
        "enum": sorted(available_timezones()),
        "description": "An IANA time zone name, like Asia/Kolkata.",
    }
)
class TimezoneField(serializers.CharField):
    """The names bookings.schedules.known_zone takes: the schema lists them (the server's own
    tz database), so a client knows "0" or "Mars/Olympus" is refused before sending it."""


class ScheduleSerializer(serializers.ModelSerializer):
    timezone = TimezoneField()
    weekly = WeeklyRangeSerializer(many=True)
    unavailable_dates = serializers.ListField(child=serializers.DateField())
    min_notice_hours = serializers.IntegerField(min_value=0, max_value=168, default=2)
    horizon_days = serializers.IntegerField(min_value=1, max_value=365, default=30)

    class Meta:
        model = Schedule
        fields = ["timezone", "weekly", "unavailable_dates", "min_notice_hours", "horizon_days"]


@extend_schema_serializer(component_name="Schedule")  # ScheduleRequest, as before
class ScheduleInputSerializer(ScheduleSerializer):
    """What `PUT` takes: the answer's fields; `weekly` and `unavailable_dates` may be left out
    (none), as the server takes them."""

    weekly = WeeklyRangeSerializer(many=True, required=False, default=list)
    unavailable_dates = serializers.ListField(
        child=serializers.DateField(), required=False, default=list
    )


class SlotSerializer(serializers.Serializer):
    start_at = serializers.DateTimeField()
    end_at = serializers.DateTimeField()


class SlotsSerializer(serializers.Serializer):
    slots = SlotSerializer(many=True)
    timezone = serializers.CharField(help_text="The consultant's time zone.")
    session_type = serializers.UUIDField()
    # (named with a trailing underscore: `from` is a Python keyword)
    from_ = serializers.DateField(help_text="The first local date (inclusive).")
    to = serializers.DateField(help_text="The last local date (inclusive).")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class BookedSessionTypeSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="session_type_id")
    title = serializers.CharField()
    channel = serializers.ChoiceField(choices=Channel.choices)
    duration_minutes = serializers.IntegerField()


_LEFT_TO_PAY = (
    "Paise: what is left to pay at the gateway (the price, or for `split` the price less "
    "`wallet_amount`)."
)


class RazorpayBookingPaymentSerializer(serializers.Serializer):
    """Razorpay's shape (also the offline gateway's): pay with Checkout, verify its signature."""

    payment_id = serializers.UUIDField()
    gateway = serializers.ChoiceField(choices=["razorpay"])
    gateway_order_id = serializers.CharField()
    key_id = serializers.CharField(allow_null=True, help_text="The Razorpay key id for checkout.")
    amount = serializers.IntegerField(help_text=_LEFT_TO_PAY)
    currency = serializers.CharField()
    status = serializers.CharField()


class StripeBookingPaymentSerializer(serializers.Serializer):
    """Stripe's shape (`PAYMENT_GATEWAY=stripe`): confirm the PaymentIntent with Stripe.js,
    then verify with `payment_id` alone."""

    payment_id = serializers.UUIDField()
    gateway = serializers.ChoiceField(choices=["stripe"])
    client_secret = serializers.CharField(
        allow_null=True,
        help_text="The PaymentIntent's client secret, for the booking's client only and while "
        "the payment is `created`: in the answer to `POST /bookings` and on `GET /bookings/{id}` "
        "(asked of Stripe again: it is not stored); null elsewhere (lists, frames, the "
        "consultant), once paid, or when Stripe did not answer (read the booking again).",
    )
    publishable_key = serializers.CharField(help_text="Stripe's publishable key for Stripe.js.")
    amount = serializers.IntegerField(help_text=_LEFT_TO_PAY)
    currency = serializers.CharField()
    status = serializers.CharField()


BOOKING_PAYMENT = PolymorphicProxySerializer(
    component_name="BookingPayment",
    serializers={
        "razorpay": RazorpayBookingPaymentSerializer,
        "stripe": StripeBookingPaymentSerializer,
    },
    resource_type_field_name="gateway",
    allow_null=True,
)


class BookingSerializer(serializers.ModelSerializer):
    client_id = serializers.UUIDField(read_only=True)
    consultant_id = serializers.UUIDField(read_only=True)
    session_type = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=Status.choices)
    payment_method = serializers.ChoiceField(choices=PaymentMethod.choices)
    payment = serializers.SerializerMethodField()
    cancelled_by = serializers.ChoiceField(choices=Party.choices, allow_null=True)
    no_show_by = serializers.ChoiceField(choices=Party.choices, allow_null=True)
    consultation_id = serializers.UUIDField(read_only=True, allow_null=True)
    price = serializers.IntegerField(help_text="Paise.")
    wallet_amount = serializers.SerializerMethodField(
        help_text="Paise of the price from the wallet's balance: all of it for `wallet`, none "
        "for `gateway`, for `split` the part held (then taken once `payment` is paid); "
        "`payment.amount` is the rest."
    )
    refund_amount = serializers.IntegerField(help_text="Paise back to the client.")

    class Meta:
        model = Booking
        fields = [
            "id",
            "client_id",
            "consultant_id",
            "session_type",
            "start_at",
            "end_at",
            "price",
            "currency",
            "status",
            "goals",
            "payment_method",
            "payment",
            "wallet_amount",
            "refund_amount",
            "cancelled_by",
            "cancel_reason",
            "no_show_by",
            "consultation_id",
            "created_at",
        ]

    @extend_schema_field(BookedSessionTypeSerializer)
    def get_session_type(self, obj) -> dict:
        return BookedSessionTypeSerializer(obj).data

    def get_wallet_amount(self, obj) -> int:
        if obj.payment_method == PaymentMethod.WALLET:
            return obj.price
        if obj.payment_method == PaymentMethod.SPLIT and obj.payment_id is not None:
            return obj.price - obj.payment.amount
        return 0

    @extend_schema_field(BOOKING_PAYMENT)
    def get_payment(self, obj) -> dict | None:
        """The gateway payment in the running gateway's shape (`wallets.payments.
        checkout_fields`). Stripe's client secret goes only to the booking's client
        (`context["reader_id"]`); `context["checkout"]` asks Stripe for it again (one booking's
        GET: never a list's, which would call Stripe once a row) while the booking is pending."""
        if obj.payment_id is None:
            return None
        mine = obj.client_id is not None and self.context.get("reader_id") == obj.client_id
        fields = checkout_fields(
            obj.payment,
            secret=mine,
            fetch=mine and bool(self.context.get("checkout")) and obj.status == Status.PENDING,
        )
        fields.pop("offline", None)  # the pages' offline checkout: not in the API
        shape = (
            StripeBookingPaymentSerializer
            if "client_secret" in fields
            else RazorpayBookingPaymentSerializer
        )
        return shape(fields).data


def booking_frame_data(booking: Booking) -> dict:
    """The booking as a `booking_updated` frame carries it (JSON-ready)."""
    return json.loads(json.dumps(BookingSerializer(booking).data, cls=DjangoJSONEncoder))
