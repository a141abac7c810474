"""Earnings and payouts over HTTP (CONTRACT.md "Reviews and earnings"): thin views.

Only consultants see these routes (403 `permission_denied` for anyone else). An earning's
figures are net of any refund of its consultation (see `earnings.models`).
"""

from datetime import UTC

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsConsultant, signed_in_user
from config.fields import StrictIntegerField
from config.schema import error_responses
from earnings import services
from earnings.models import Earning, Payout, PayoutStatus
from earnings.selectors import earnings_summary
from wallets.api import IDEMPOTENCY_HEADER
from wallets.idempotency import idempotent

MAX_PAYOUT = 10**12  # paise; far above any wallet, keeps the input a sane integer


class EarningSerializer(serializers.ModelSerializer):
    consultation_id = serializers.UUIDField(
        read_only=True,
        allow_null=True,
        help_text="The consultation (a booking's, for a booking's earning; null for the kept "
        "part of a booking cancelled late).",
    )
    gross = serializers.IntegerField(read_only=True, help_text="Paise the client paid.")
    commission = serializers.IntegerField(read_only=True, help_text="Paise to the platform.")
    net = serializers.IntegerField(read_only=True, help_text="Paise to the consultant.")
    created_at = serializers.DateTimeField(read_only=True, default_timezone=UTC)

    class Meta:
        model = Earning
        fields = ["consultation_id", "gross", "commission", "net", "created_at"]


class SummarySerializer(serializers.Serializer):
    total_earnings = serializers.IntegerField(help_text="Paise, net of commission and refunds.")
    today_earnings = serializers.IntegerField(
        help_text="Paise earned by consultations that ended today (the day in TIME_ZONE)."
    )
    total_sessions = serializers.IntegerField()
    total_seconds = serializers.IntegerField()
    pending_payout = serializers.IntegerField(help_text="Paise requested, not yet paid.")
    currency = serializers.CharField()


class PayoutInSerializer(serializers.Serializer):
    amount = StrictIntegerField(min_value=1, max_value=MAX_PAYOUT, help_text="Paise.")


class PayoutSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=PayoutStatus.choices, read_only=True)

    class Meta:
        model = Payout
        fields = ["id", "amount", "status"]
        read_only_fields = fields


class PayoutListSerializer(PayoutSerializer):
    """A payout in the consultant's list (an addition to the contract): when it was asked for
    and when an admin paid or rejected it."""

    created_at = serializers.DateTimeField(read_only=True, default_timezone=UTC)
    decided_at = serializers.DateTimeField(read_only=True, default_timezone=UTC, allow_null=True)

    class Meta(PayoutSerializer.Meta):
        fields = [*PayoutSerializer.Meta.fields, "created_at", "decided_at"]
        read_only_fields = fields


CONSULTANT_ONLY = error_responses({401: "not_authenticated", 403: "permission_denied"})


class EarningListView(generics.ListAPIView):
    permission_classes = [IsConsultant]
    serializer_class = EarningSerializer
    filter_backends: list = []

    def get_queryset(self):
        return Earning.objects.filter(consultant__user=signed_in_user(self.request)).order_by(
            "-created_at", "-id"
        )

    @extend_schema(responses={200: EarningSerializer(many=True), **CONSULTANT_ONLY})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class SummaryView(APIView):
    permission_classes = [IsConsultant]

    @extend_schema(
        operation_id="earnings_summary", responses={200: SummarySerializer, **CONSULTANT_ONLY}
    )
    def get(self, request):
        summary = earnings_summary(consultant_user=request.user)
        return Response(SummarySerializer(summary).data)


class PayoutView(generics.ListAPIView):
    permission_classes = [IsConsultant]
    serializer_class = PayoutListSerializer
    filter_backends: list = []

    def get_queryset(self):
        return Payout.objects.filter(consultant=signed_in_user(self.request)).order_by(
            "-created_at", "-id"
        )

    @extend_schema(
        operation_id="earnings_payouts_list",
        responses={200: PayoutListSerializer(many=True), **CONSULTANT_ONLY},
        description="The consultant's own payouts, newest first.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="earnings_payout_create",
        request=PayoutInSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: PayoutSerializer,
            **error_responses(
                {
                    400: "invalid",
                    401: "not_authenticated",
                    402: "insufficient_balance",
                    403: "permission_denied",
                    409: ["idempotency_key_reused", "conflict"],
                }
            ),
        },
        description="Holds `amount` paise of the wallet until an admin pays or rejects it.",
    )
    @idempotent
    def post(self, request):
        incoming = PayoutInSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        payout = services.request_payout(
            consultant=request.user,
            amount=incoming.validated_data["amount"],
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        return Response(PayoutSerializer(payout).data, status=status.HTTP_201_CREATED)
