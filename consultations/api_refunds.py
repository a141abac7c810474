"""`POST /api/v1/consultations/{id}/refund` (admin): a thin view over `consultations.refunds`."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdmin
from config.fields import StrictIntegerField
from config.schema import error_responses
from consultations.refunds import MAX_REASON_LENGTH, refund_consultation
from wallets.api import IDEMPOTENCY_HEADER, TransactionSerializer
from wallets.idempotency import HEADER, idempotent

MAX_REFUND = 10**12  # paise; far above any consultation, keeps the input a sane integer


class RefundInSerializer(serializers.Serializer):
    amount = StrictIntegerField(min_value=1, max_value=MAX_REFUND, help_text="Paise.")
    reason = serializers.CharField(
        max_length=MAX_REASON_LENGTH, required=False, allow_blank=True, default=""
    )


class ConsultationRefundView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        operation_id="consultation_refund",
        request=RefundInSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: TransactionSerializer,
            **error_responses(
                {
                    400: "invalid",
                    401: "not_authenticated",
                    402: "insufficient_balance",
                    403: "permission_denied",
                    404: "not_found",
                    409: [
                        "refund_exceeds_charge",
                        "invalid_state",
                        "idempotency_key_reused",
                        "conflict",
                    ],
                }
            ),
        },
        description="Credits the client `amount` paise of an ended consultation's charge; the "
        "consultant's earning and the platform's commission are reversed in proportion (the "
        "platform's part rounded down). 402 `insufficient_balance` if the consultant's wallet "
        "no longer holds their part.",
    )
    @idempotent
    def post(self, request, pk):
        incoming = RefundInSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        entry = refund_consultation(
            consultation_id=pk,
            amount=incoming.validated_data["amount"],
            reason=incoming.validated_data["reason"],
            actor=request.user,
            idempotency_key=request.headers.get(HEADER),
        )
        return Response(TransactionSerializer(entry).data, status=status.HTTP_201_CREATED)
