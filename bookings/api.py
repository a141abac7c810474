"""Scheduled bookings over HTTP (CONTRACT.md "Scheduled bookings"): thin views over the
services.

Choices the contract leaves open, made here:

* Session types, slots and schedules of an unverified or unknown consultant answer 404.
* `slots`: `session_type` is required (400 `invalid`); one that is not the consultant's active
  type answers 404. `from`/`to` are local dates in the consultant's time zone, inclusive,
  by default today and 13 days on; at most 31 days apart. The answer names the time zone.
* `payment` is null for a `wallet` booking.
* `POST /bookings`: a malformed `session_type_id` is 400 `invalid`; an unknown or inactive
  one (or an unverified consultant's) 404. `split` is for an available balance above nothing
  and below the price: otherwise 400 `invalid` (`payment_method`) naming the method that fits
  (`wallet` when the balance covers the price, `gateway` when there is nothing), never a
  booking of another method than the one asked for. The booking's `wallet_amount` (an
  addition, in the schema) is the part from the wallet.
* `cancel` takes an `Idempotency-Key` (it moves money); `join` is safe to repeat.
* `GET /bookings` lists the user's bookings as client and as consultant, soonest first;
  `role=` narrows it to one side.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsConsultant, signed_in_user
from bookings import schedules, selectors, services, slots
from bookings.models import Booking, PaymentMethod, SessionType, Status
from bookings.serializers import (
    BookingSerializer,
    ScheduleInputSerializer,
    ScheduleSerializer,
    SessionTypeInputSerializer,
    SessionTypeSerializer,
    SlotsSerializer,
)
from config import clock
from config.errors import NotFound
from config.schema import error_responses
from consultants.pagination import OrderedCursorPagination
from consultants.selectors import public_consultant
from consultants.services import profile_for
from consultations.serializers import ConsultationSerializer
from wallets.idempotency import HEADER, idempotent


def _public(pk) -> Any:
    profile = public_consultant(consultant_id=pk)
    if profile is None:
        raise NotFound("No such consultant.")
    return profile


class SessionTypePage(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = SessionTypeSerializer(many=True)


class BookingPage(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = BookingSerializer(many=True)


class SessionTypePagination(OrderedCursorPagination):
    page_size = 100
    ordering = ("created_at", "id")


def _page(view: APIView, request: Request, queryset) -> Response:
    paginator = SessionTypePagination()
    rows = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(SessionTypeSerializer(rows, many=True).data)


class PublicSessionTypesView(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        operation_id="consultants_session_types_list",
        summary="A consultant's session types on offer",
        tags=["bookings"],
        responses={
            200: SessionTypePage,
            **error_responses({400: "invalid", 404: "not_found"}),
        },
    )
    def get(self, request: Request, pk) -> Response:
        profile = _public(pk)
        return _page(self, request, SessionType.objects.filter(consultant=profile, is_active=True))


class MySessionTypesView(APIView):
    permission_classes = [IsConsultant]

    @extend_schema(
        operation_id="consultants_me_session_types_list",
        summary="My session types on offer",
        tags=["bookings"],
        responses={
            200: SessionTypePage,
            **error_responses({400: "invalid", 401: "not_authenticated", 403: "permission_denied"}),
        },
    )
    def get(self, request: Request) -> Response:
        profile = profile_for(user=signed_in_user(request))
        return _page(self, request, SessionType.objects.filter(consultant=profile, is_active=True))

    @extend_schema(
        operation_id="consultants_me_session_types_create",
        summary="Offer a new session type",
        tags=["bookings"],
        request=SessionTypeInputSerializer,
        responses={
            201: SessionTypeSerializer,
            **error_responses({400: "invalid", 401: "not_authenticated", 403: "permission_denied"}),
        },
    )
    def post(self, request: Request) -> Response:
        profile = profile_for(user=signed_in_user(request))
        created = schedules.create_session_type(consultant=profile, values=_body(request))
        return Response(SessionTypeSerializer(created).data, status=status.HTTP_201_CREATED)


def _body(request: Request) -> dict:
    if not isinstance(request.data, dict):
        raise serializers.ValidationError({"non_field_errors": ["Send a JSON object."]})
    return request.data


class MySessionTypeView(APIView):
    permission_classes = [IsConsultant]

    @extend_schema(
        operation_id="consultants_me_session_types_update",
        summary="Change a session type (bookings made keep their terms)",
        tags=["bookings"],
        request=SessionTypeInputSerializer(partial=True),
        responses={
            200: SessionTypeSerializer,
            **error_responses(
                {
                    400: "invalid",
                    401: "not_authenticated",
                    403: "permission_denied",
                    404: "not_found",
                }
            ),
        },
    )
    def patch(self, request: Request, pk) -> Response:
        profile = profile_for(user=signed_in_user(request))
        changed = schedules.update_session_type(
            consultant=profile, session_type_id=pk, values=_body(request)
        )
        return Response(SessionTypeSerializer(changed).data)

    @extend_schema(
        operation_id="consultants_me_session_types_destroy",
        summary="Stop offering a session type (bookings made keep their terms)",
        tags=["bookings"],
        responses={
            204: None,
            **error_responses(
                {401: "not_authenticated", 403: "permission_denied", 404: "not_found"}
            ),
        },
    )
    def delete(self, request: Request, pk) -> Response:
        profile = profile_for(user=signed_in_user(request))
        schedules.deactivate_session_type(consultant=profile, session_type_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyScheduleView(APIView):
    permission_classes = [IsConsultant]

    @extend_schema(
        operation_id="consultants_me_schedule_retrieve",
        summary="My weekly hours",
        tags=["bookings"],
        responses={
            200: ScheduleSerializer,
            **error_responses({401: "not_authenticated", 403: "permission_denied"}),
        },
    )
    def get(self, request: Request) -> Response:
        profile = profile_for(user=signed_in_user(request))
        schedule = schedules.schedule_of(profile) or schedules.empty_schedule(profile)
        return Response(ScheduleSerializer(schedule).data)

    @extend_schema(
        operation_id="consultants_me_schedule_update",
        summary="Set my weekly hours, days off, notice and horizon",
        description="Ranges are local times in `timezone`; an `end` of `24:00` joins the next "
        "day's `00:00`, so a session may run across midnight.",
        tags=["bookings"],
        request=ScheduleInputSerializer,
        responses={
            200: ScheduleSerializer,
            **error_responses({400: "invalid", 401: "not_authenticated", 403: "permission_denied"}),
        },
    )
    def put(self, request: Request) -> Response:
        profile = profile_for(user=signed_in_user(request))
        schedule = schedules.set_schedule(consultant=profile, values=_body(request))
        return Response(ScheduleSerializer(schedule).data)


class SlotsQuerySerializer(serializers.Serializer):
    session_type = serializers.UUIDField()
    # `from` is a Python keyword: declared under another name and read by hand below.
    to = serializers.DateField(required=False)


class SlotsView(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        operation_id="consultants_slots",
        summary="Free start times for a session type",
        description="Every start on the hour or half hour in the consultant's time zone at "
        "which the session fits wholly in the weekly hours, with the notice and within the "
        "horizon, overlapping no pending, confirmed or in-progress booking.",
        tags=["bookings"],
        parameters=[
            OpenApiParameter("session_type", OpenApiTypes.UUID, required=True),
            OpenApiParameter("from", OpenApiTypes.DATE, description="Local date (default: today)."),
            OpenApiParameter(
                "to", OpenApiTypes.DATE, description="Local date, inclusive (default: from + 13)."
            ),
        ],
        responses={
            200: SlotsSerializer,
            **error_responses({400: "invalid", 404: "not_found"}),
        },
    )
    def get(self, request: Request, pk) -> Response:
        profile = _public(pk)
        params = request.query_params
        errors: dict[str, list[str]] = {}
        session_type_id = _uuid(params.get("session_type"), "session_type", errors)
        first = _date(params.get("from"), "from", errors)
        last = _date(params.get("to"), "to", errors)
        if errors or session_type_id is None:  # (None only with an error)
            raise serializers.ValidationError(errors)
        session_type = SessionType.objects.filter(
            consultant=profile, id=session_type_id, is_active=True
        ).first()
        if session_type is None:
            raise NotFound("No such session type.")
        schedule = schedules.schedule_of(profile)
        zone = ZoneInfo(schedule.timezone if schedule else "Asia/Kolkata")
        now = clock.now()
        first = first or now.astimezone(zone).date()
        last = last or first + timedelta(days=13)
        if last < first:
            raise serializers.ValidationError({"to": ["On or after `from`."]})
        if (last - first).days > slots.MAX_RANGE_DAYS:
            raise serializers.ValidationError({"to": ["At most 31 days after `from`."]})
        found = selectors.slots_for(
            schedule=schedule, session_type=session_type, first=first, last=last, now=now
        )
        return Response(
            {
                "slots": [{"start_at": s.start_at, "end_at": s.end_at} for s in found],
                "timezone": str(zone),
                "session_type": str(session_type.id),
                "from": first.isoformat(),
                "to": last.isoformat(),
            }
        )


def _uuid(text: str | None, name: str, errors: dict) -> uuid.UUID | None:
    if not text:
        errors[name] = ["This field is required."]
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        errors[name] = ["Must be a valid UUID."]
        return None


def _date(text: str | None, name: str, errors: dict) -> date | None:
    if text is None or text == "":
        return None
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        errors[name] = ["A date as YYYY-MM-DD."]
        return None


# --- Bookings ---------------------------------------------------------------------------------


class BookRequestSerializer(serializers.Serializer):
    session_type_id = serializers.UUIDField()
    start_at = serializers.DateTimeField(help_text="One of the slots' `start_at`.")
    goals = serializers.CharField(
        max_length=services.MAX_GOALS, required=False, allow_blank=True, default=""
    )
    payment_method = serializers.ChoiceField(choices=PaymentMethod.choices)


class CancelRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class JoinedSerializer(serializers.Serializer):
    booking = BookingSerializer()
    consultation = ConsultationSerializer()


class BookingListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    role = serializers.ChoiceField(choices=["client", "consultant"], required=False)


class BookingPagination(OrderedCursorPagination):
    ordering = ("start_at", "id")


def _bookings_of(user) -> Any:
    return Booking.objects.filter(Q(client=user) | Q(consultant__user=user))


def _reader(request: Request) -> dict:
    """Who reads the booking: its client alone sees a Stripe payment's client secret."""
    return {"reader_id": request.user.id}


def _visible(request: Request, pk) -> Booking:
    user = signed_in_user(request)
    visible = Booking.objects.all() if user.is_admin else _bookings_of(user)
    booking = visible.select_related("payment").filter(id=pk).first()
    if booking is None:
        raise NotFound("No such booking.")
    return booking


BOOK_ERRORS = error_responses(
    {
        400: "invalid",
        402: "insufficient_balance",
        403: "permission_denied",
        404: "not_found",
        409: ["slot_unavailable", "idempotency_key_reused", "conflict"],
        423: "wallet_frozen",
        502: "gateway_error",
    }
)


class BookingListView(APIView):
    @extend_schema(
        operation_id="bookings_list",
        summary="Your bookings, soonest first",
        tags=["bookings"],
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=Status.values),
            OpenApiParameter("role", OpenApiTypes.STR, enum=["client", "consultant"]),
        ],
        responses={200: BookingPage, **error_responses({400: "invalid"})},
    )
    def get(self, request: Request) -> Response:
        query = BookingListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        role = query.validated_data.get("role")
        if role == "client":
            rows = Booking.objects.filter(client=signed_in_user(request))
        elif role == "consultant":
            rows = Booking.objects.filter(consultant__user=signed_in_user(request))
        else:
            rows = _bookings_of(request.user)
        if "status" in query.validated_data:
            rows = rows.filter(status=query.validated_data["status"])
        paginator = BookingPagination()
        page = paginator.paginate_queryset(rows.select_related("payment"), request, view=self)
        return paginator.get_paginated_response(
            BookingSerializer(page, many=True, context=_reader(request)).data
        )

    @extend_schema(
        operation_id="bookings_create",
        summary="Book a session type at one of its free slots (clients)",
        description="`wallet`: paid at once, `confirmed`. `gateway`: `pending` with a `payment` "
        "(an order for exactly the price) that the wallet's verify route or the webhook "
        "confirms; unpaid after `BOOKING_PAYMENT_MINUTES` it expires. A payment captured after "
        "the expiry (or a cancellation) is credited to the wallet and confirms nothing.\n\n"
        "`split`: the wallet's whole available balance is held (`wallet_amount`) and the "
        "booking is `pending` with a `payment` for the rest (`payment.amount` = `price` - "
        "`wallet_amount`), confirmed like `gateway`: the capture credits the payment and takes "
        "the held part and the paid part in one transaction, once, however verify and the "
        "webhook race. While pending the held part cannot be spent elsewhere; if the payment "
        "never comes, the hold is released when the booking expires (or is cancelled). "
        "`split` needs an available balance above 0 and below the price, and a rest of at "
        "least 100 paise (the gateway's minimum): otherwise 400 `invalid` with "
        "`fields.payment_method` saying which method fits (`wallet` when the balance covers "
        "the price, `gateway` when there is none); the method asked for is never swapped "
        "silently. 402 `insufficient_balance` if the balance went down between the order and "
        "the hold. Refunds of a split booking follow the same policy and all go back to the "
        "wallet.\n\n"
        "`payment` takes the running gateway's shape, as the wallet's recharge does: "
        "Razorpay's `gateway_order_id` and `key_id` (pay with Checkout, verify with its "
        "signature), or with `PAYMENT_GATEWAY=stripe` a PaymentIntent's `client_secret` and "
        "`publishable_key` (confirm it with Stripe.js, then `POST /wallet/recharge/verify` "
        "with `{payment_id}`: the platform asks Stripe and confirms the booking once, whichever "
        "of verify and the `payment_intent.succeeded` webhook comes first). The client secret "
        "is never stored: `GET /bookings/{id}` asks Stripe for it again while the booking is "
        "pending (for its client only).\n\n"
        "Takes an `Idempotency-Key`: a retry returns the same booking (one order, one hold).",
        tags=["bookings"],
        parameters=[
            OpenApiParameter(
                HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, description="1-255 chars."
            )
        ],
        request=BookRequestSerializer,
        responses={201: BookingSerializer, **BOOK_ERRORS},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        body = BookRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        booking = services.book(
            client=signed_in_user(request),
            session_type_id=body.validated_data["session_type_id"],
            start_at=body.validated_data["start_at"],
            payment_method=body.validated_data["payment_method"],
            goals=body.validated_data["goals"],
        )
        return Response(
            BookingSerializer(booking, context=_reader(request)).data,
            status=status.HTTP_201_CREATED,
        )


class BookingDetailView(APIView):
    @extend_schema(
        operation_id="bookings_retrieve",
        summary="One booking (its participants and admins)",
        tags=["bookings"],
        responses={200: BookingSerializer, **error_responses({404: "not_found"})},
    )
    def get(self, request: Request, pk) -> Response:
        return Response(
            BookingSerializer(
                _visible(request, pk), context={**_reader(request), "checkout": True}
            ).data
        )


class BookingCancelView(APIView):
    @extend_schema(
        operation_id="bookings_cancel",
        summary="Cancel a pending or confirmed booking (its client or consultant)",
        description="The client gets everything back when the consultant cancels, or when "
        "they cancel `BOOKING_FULL_REFUND_HOURS` or more before the start; "
        "`BOOKING_LATE_REFUND_PERCENT` of it until `BOOKING_NO_REFUND_HOURS` before; nothing "
        "later. Takes an `Idempotency-Key`.",
        tags=["bookings"],
        request=CancelRequestSerializer,
        responses={
            200: BookingSerializer,
            **error_responses({400: "invalid", 404: "not_found", 409: "invalid_state"}),
        },
    )
    @idempotent
    def post(self, request: Request, pk) -> Response:
        body = CancelRequestSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        booking = services.cancel_booking(
            booking_id=pk, actor=signed_in_user(request), reason=body.validated_data["reason"]
        )
        return Response(BookingSerializer(booking, context=_reader(request)).data)


class BookingJoinView(APIView):
    @extend_schema(
        operation_id="bookings_join",
        summary="Enter the booking's room (its participants)",
        description="From `BOOKING_JOIN_EARLY_MINUTES` before the start until the end. The "
        "first to join opens the booked consultation; once both have, the booking is "
        "`in_progress`.",
        tags=["bookings"],
        request=None,
        responses={
            200: JoinedSerializer,
            **error_responses(
                {
                    404: "not_found",
                    409: ["too_early", "invalid_state", "consultant_busy", "client_busy"],
                }
            ),
        },
    )
    def post(self, request: Request, pk) -> Response:
        joined = services.join_booking(booking_id=pk, actor=signed_in_user(request))
        return Response(
            {
                "booking": BookingSerializer(joined.booking, context=_reader(request)).data,
                "consultation": ConsultationSerializer(
                    joined.consultation, context={"reader_id": request.user.id}
                ).data,
            }
        )
