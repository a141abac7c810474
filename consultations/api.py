"""Consultations over HTTP (CONTRACT.md "Consultations"): thin views over the services.

Choices the contract leaves open, made here:

* A malformed `consultant_id` is answered like an unknown one: 404 `not_found`.
* Only the named participant may accept, decline or cancel: anyone who cannot see the
  consultation gets 404, the other participant (or an admin) 403 `permission_denied`.
* `GET /consultations` lists the user's own consultations as client and as consultant;
  `role=client|consultant` narrows it to one side.
"""

from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import signed_in_user
from config.errors import NotFound
from config.fields import StrictCharField
from config.schema import error_responses
from consultants.models import Channel
from consultations import services
from consultations.models import Consultation, Status
from consultations.serializers import ConsultationSerializer, EndedConsultationSerializer
from wallets.api import IDEMPOTENCY_HEADER
from wallets.idempotency import idempotent


class StartSerializer(serializers.Serializer):
    consultant_id = StrictCharField(max_length=64, help_text="The consultant's id (a UUID).")
    channel = serializers.ChoiceField(choices=Channel.choices)


class ListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    role = serializers.ChoiceField(choices=["client", "consultant"], required=False)


START_ERRORS = error_responses(
    {
        400: ["invalid", "channel_not_offered"],
        402: "insufficient_balance",
        403: "permission_denied",
        404: "not_found",
        409: ["consultant_not_verified", "consultant_offline", "consultant_busy", "client_busy"],
    }
)


def _start(request: Request) -> Response:
    body = StartSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    consultation = services.start_consultation(
        client=signed_in_user(request),
        consultant_id=body.validated_data["consultant_id"],
        channel=body.validated_data["channel"],
    )
    return Response(
        ConsultationSerializer(consultation, context=_reader(request)).data,
        status=status.HTTP_201_CREATED,
    )


def _reader(request: Request) -> dict:
    """Serializer context: who reads (`client_birth_details` is for the astrologer only)."""
    return {"reader_id": request.user.id}


def own_consultations(user) -> QuerySet[Consultation]:
    return Consultation.objects.filter(Q(client=user) | Q(consultant__user=user))


class ConsultationListView(generics.GenericAPIView):
    serializer_class = ConsultationSerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Consultation]:
        user = signed_in_user(self.request)
        query = ListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        role = query.validated_data.get("role")
        if role == "client":
            consultations = Consultation.objects.filter(client=user)
        elif role == "consultant":
            consultations = Consultation.objects.filter(consultant__user=user)
        else:
            consultations = own_consultations(user)
        if "status" in query.validated_data:
            consultations = consultations.filter(status=query.validated_data["status"])
        # (the consultant's category and the client: for an astrologer's client_birth_details)
        return consultations.select_related("consultant__category", "client")

    @extend_schema(
        summary="Your consultations, newest first",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=Status.values),
            OpenApiParameter("role", OpenApiTypes.STR, enum=["client", "consultant"]),
        ],
        responses={200: ConsultationSerializer(many=True), **error_responses({400: "invalid"})},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(
            ConsultationSerializer(page, many=True, context=_reader(request)).data
        )

    @extend_schema(
        summary="Ask a consultant for a consultation (clients)",
        request=StartSerializer,
        responses={201: ConsultationSerializer, **START_ERRORS},
    )
    def post(self, request: Request) -> Response:
        return _start(request)


class StartView(APIView):
    @extend_schema(
        summary="Ask a consultant for a consultation (alias of POST /consultations)",
        request=StartSerializer,
        responses={201: ConsultationSerializer, **START_ERRORS},
    )
    def post(self, request: Request) -> Response:
        return _start(request)


class ConsultationDetailView(APIView):
    @extend_schema(
        summary="One consultation (its participants and admins)",
        responses={200: ConsultationSerializer, **error_responses({404: "not_found"})},
    )
    def get(self, request: Request, pk) -> Response:
        user = signed_in_user(request)
        visible = Consultation.objects.all() if user.is_admin else own_consultations(user)
        consultation = visible.filter(id=pk).first()
        if consultation is None:
            raise NotFound()
        return Response(ConsultationSerializer(consultation, context=_reader(request)).data)


TRANSITION_ERRORS = error_responses(
    {403: "permission_denied", 404: "not_found", 409: "invalid_state"}
)


class AcceptView(APIView):
    @extend_schema(
        summary="Accept a pending request (its consultant); billing starts",
        request=None,
        responses={200: ConsultationSerializer, **TRANSITION_ERRORS},
    )
    def post(self, request: Request, pk) -> Response:
        consultation = services.accept_consultation(
            consultation_id=pk, actor=signed_in_user(request)
        )
        return Response(ConsultationSerializer(consultation, context=_reader(request)).data)


class DeclineView(APIView):
    @extend_schema(
        summary="Decline a pending request (its consultant)",
        request=None,
        responses={200: ConsultationSerializer, **TRANSITION_ERRORS},
    )
    def post(self, request: Request, pk) -> Response:
        consultation = services.decline_consultation(
            consultation_id=pk, actor=signed_in_user(request)
        )
        return Response(ConsultationSerializer(consultation, context=_reader(request)).data)


class CancelView(APIView):
    @extend_schema(
        summary="Withdraw a pending request (its client)",
        request=None,
        responses={200: ConsultationSerializer, **TRANSITION_ERRORS},
    )
    def post(self, request: Request, pk) -> Response:
        consultation = services.cancel_consultation(
            consultation_id=pk, actor=signed_in_user(request)
        )
        return Response(ConsultationSerializer(consultation, context=_reader(request)).data)


class EndView(APIView):
    @extend_schema(
        summary="End an active consultation (either participant); bills the final seconds",
        request=None,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            200: EndedConsultationSerializer,
            **error_responses(
                {
                    400: "invalid",
                    403: "permission_denied",
                    404: "not_found",
                    409: ["invalid_state", "idempotency_key_reused", "conflict"],
                }
            ),
        },
    )
    @idempotent
    def post(self, request: Request, pk) -> Response:
        """Bills the final seconds: it moves money, so an `Idempotency-Key` makes a retry
        answer the first 200 again; a repeated end without one answers 409 `invalid_state`."""
        result = services.end_consultation(consultation_id=pk, actor=signed_in_user(request))
        # Read by EndedConsultationSerializer's remaining_balance (not a model field).
        result.consultation.remaining_balance = result.remaining_balance  # type: ignore[attr-defined]
        return Response(
            EndedConsultationSerializer(result.consultation, context=_reader(request)).data
        )
