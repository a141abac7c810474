"""Scheduled bookings over HTTP (CONTRACT.md "Scheduled bookings"): thin views over the
services.

Choices the contract leaves open, made here:

* Session types, slots and schedules of an unverified or unknown consultant answer 404.
* `slots`: `session_type` is required (400 `invalid`); one that is not the consultant's active
  type answers 404. `from`/`to` are local dates in the consultant's time zone, inclusive,
  by default today and 13 days on; at most 31 days apart. The answer names the time zone.
* `payment` is null for a `wallet` booking.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsConsultant
from bookings import schedules, selectors, slots
from bookings.models import SessionType
from bookings.serializers import (
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


def _public(pk) -> Any:
    profile = public_consultant(consultant_id=pk)
    if profile is None:
        raise NotFound("No such consultant.")
    return profile


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
            200: SessionTypeSerializer(many=True),
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
            200: SessionTypeSerializer(many=True),
            **error_responses({400: "invalid", 401: "not_authenticated", 403: "permission_denied"}),
        },
    )
    def get(self, request: Request) -> Response:
        profile = profile_for(user=request.user)
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
        profile = profile_for(user=request.user)
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
        profile = profile_for(user=request.user)
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
        profile = profile_for(user=request.user)
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
        profile = profile_for(user=request.user)
        schedule = schedules.schedule_of(profile) or schedules.empty_schedule(profile)
        return Response(ScheduleSerializer(schedule).data)

    @extend_schema(
        operation_id="consultants_me_schedule_update",
        summary="Set my weekly hours, days off, notice and horizon",
        description="Ranges are local times in `timezone`; an `end` of `24:00` joins the next "
        "day's `00:00`, so a session may run across midnight.",
        tags=["bookings"],
        request=ScheduleSerializer,
        responses={
            200: ScheduleSerializer,
            **error_responses({400: "invalid", 401: "not_authenticated", 403: "permission_denied"}),
        },
    )
    def put(self, request: Request) -> Response:
        profile = profile_for(user=request.user)
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
        if errors:
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
