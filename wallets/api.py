"""The wallet and payments API (CONTRACT.md "Wallet and payments"): thin views over services."""

from __future__ import annotations

import uuid
from datetime import UTC

import django_filters
from django.conf import settings
from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from accounts.permissions import IsAdmin, IsClient, signed_in_user
from config.errors import NotFound
from config.fields import StrictCharField, StrictIntegerField
from config.schema import error_responses
from wallets import freezes, payments, stripe_events
from wallets.idempotency import idempotent
from wallets.models import (
    USER_ENTRY_KINDS,
    FrozenWallet,
    LedgerEntry,
    Payment,
    Refund,
    RefundStatus,
)
from wallets.services import wallet_for

IDEMPOTENCY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    type={"type": "string", "minLength": 1, "maxLength": 255},
    location=OpenApiParameter.HEADER,
    required=False,
    description="1-255 characters. The same key with the same body returns the first answer "
    "again; with another body, 409 `idempotency_key_reused`.",
)


# --- Serializers ------------------------------------------------------------------------------


class WalletSerializer(serializers.Serializer):
    balance = serializers.IntegerField(help_text="Paise.")
    held = serializers.IntegerField(help_text="Paise reserved for open consultations, payouts.")
    available = serializers.IntegerField(help_text="balance - held, in paise.")
    currency = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["active", "frozen"],
        help_text="`frozen`: an operator's hold; recharges, new consultations, bookings and "
        "payouts answer 423 `wallet_frozen`; money owed to the wallet still arrives.",
    )
    frozen_reason = serializers.CharField(
        allow_null=True, help_text="Why the wallet is frozen (the operator's words), or null."
    )


def wallet_body(account) -> dict:
    freeze = FrozenWallet.objects.filter(user_id=account.user_id).first()
    return {
        "balance": account.balance,
        "held": account.held,
        "available": account.available,
        "currency": settings.CURRENCY,
        "status": "frozen" if freeze else "active",
        "frozen_reason": freeze.reason if freeze else None,
    }


class FreezeInSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=freezes.MAX_REASON_CHARS, help_text="Why (audited).")


class WalletStatusView(APIView):
    """`POST /wallets/{user_id}/freeze|unfreeze` (admins): an operator's hold, audited."""

    permission_classes = [IsAdmin]
    change = "freeze"

    @extend_schema(
        request=FreezeInSerializer,
        parameters=[OpenApiParameter("user_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        responses={
            200: WalletSerializer,
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
    def post(self, request, user_id):
        incoming = FreezeInSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            user = User.objects.filter(id=uuid.UUID(str(user_id))).first()
        except ValueError:
            user = None
        if user is None:
            raise NotFound("No such user.")
        service = freezes.freeze_wallet if self.change == "freeze" else freezes.unfreeze_wallet
        service(user=user, reason=incoming.validated_data["reason"], actor=request.user)
        return Response(wallet_body(wallet_for(user=user)))


class TransactionSerializer(serializers.ModelSerializer):
    """CONTRACT.md `transaction`: one leg of the ledger on the user's wallet."""

    id = serializers.UUIDField(source="public_id")
    kind = serializers.ChoiceField(choices=[k.value for k in USER_ENTRY_KINDS])
    direction = serializers.ChoiceField(choices=["credit", "debit"])
    amount = serializers.SerializerMethodField(help_text="Paise, always positive.")
    currency = serializers.SerializerMethodField()
    reference_type = serializers.CharField(source="transaction.reference_type")
    reference_id = serializers.CharField(source="transaction.reference_id")
    description = serializers.CharField(source="transaction.description")

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "kind",
            "direction",
            "amount",
            "balance_after",
            "currency",
            "reference_type",
            "reference_id",
            "description",
            "created_at",
        ]

    def get_amount(self, entry) -> int:
        return abs(entry.amount)

    def get_currency(self, entry) -> str:
        return settings.CURRENCY


class PaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = [
            "id",
            "gateway",
            "gateway_order_id",
            "gateway_payment_id",
            "amount",
            "amount_refunded",
            "currency",
            "status",
            "fee",
            "tax",
            "created_at",
        ]
        extra_kwargs = {
            "fee": {"help_text": "Paise the gateway kept, tax included; null until known."},
            "tax": {"help_text": "The part of `fee` that is tax, paise; null until known."},
        }


class PaymentRefundSerializer(serializers.ModelSerializer):
    payment_id = serializers.UUIDField()
    currency = serializers.CharField()
    status = serializers.ChoiceField(
        choices=RefundStatus.choices,
        help_text="`pending` until the gateway confirms; `failed`: the amount is back in the "
        "wallet.",
    )

    class Meta:
        model = Refund
        fields = [
            "id",
            "payment_id",
            "amount",
            "currency",
            "status",
            "reason",
            "gateway_refund_id",
            "created_at",
        ]


class RechargeInSerializer(serializers.Serializer):
    amount = StrictIntegerField(
        min_value=payments.MIN_RECHARGE,
        max_value=payments.MAX_RECHARGE,
        help_text="Paise, 100 to 10,000,000.",
    )


class RechargeOutSerializer(serializers.Serializer):
    """Razorpay's shape (also the offline gateway's)."""

    payment_id = serializers.UUIDField()
    gateway = serializers.ChoiceField(choices=["razorpay"])
    gateway_order_id = serializers.CharField()
    key_id = serializers.CharField(help_text="The Razorpay key id for checkout.")
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.CharField()


class StripeRechargeOutSerializer(serializers.Serializer):
    """Stripe's shape (`PAYMENT_GATEWAY=stripe`): confirm the PaymentIntent with Stripe.js."""

    payment_id = serializers.UUIDField()
    gateway = serializers.ChoiceField(choices=["stripe"])
    client_secret = serializers.CharField(help_text="The PaymentIntent's client secret.")
    publishable_key = serializers.CharField(help_text="Stripe's publishable key for Stripe.js.")
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.CharField()


RECHARGE_OUT = PolymorphicProxySerializer(
    component_name="Recharge",
    serializers={"razorpay": RechargeOutSerializer, "stripe": StripeRechargeOutSerializer},
    resource_type_field_name="gateway",
)


class VerifyInSerializer(serializers.Serializer):
    """Either Razorpay Checkout's three fields, or only our `payment_id`: then the platform asks
    the gateway (Stripe's way; any gateway answers it)."""

    razorpay_order_id = serializers.CharField(max_length=64, required=False)
    razorpay_payment_id = serializers.CharField(max_length=64, required=False)
    razorpay_signature = serializers.CharField(max_length=128, required=False)
    payment_id = serializers.UUIDField(required=False)

    def validate(self, data):
        razorpay = ("razorpay_order_id", "razorpay_payment_id", "razorpay_signature")
        if "payment_id" in data and not any(name in data for name in razorpay):
            return data
        missing = [name for name in razorpay if name not in data]
        if missing:
            raise serializers.ValidationError(
                {name: [self.fields[name].error_messages["required"]] for name in missing}
            )
        return data


class VerifyOutSerializer(serializers.Serializer):
    payment_id = serializers.UUIDField()
    status = serializers.CharField()
    transaction = TransactionSerializer()
    balance = serializers.IntegerField()


class PaymentRefundInSerializer(serializers.Serializer):
    amount = StrictIntegerField(min_value=1, max_value=payments.MAX_RECHARGE)
    reason = serializers.CharField(max_length=255, allow_blank=True, required=False, default="")


class WebhookOutSerializer(serializers.Serializer):
    status = serializers.CharField()


# --- Views ------------------------------------------------------------------------------------


class WalletView(APIView):
    @extend_schema(
        operation_id="wallet_retrieve",
        responses={200: WalletSerializer, **error_responses({401: "not_authenticated"})},
    )
    def get(self, request):
        return Response(wallet_body(wallet_for(user=request.user)))


class WalletBalanceView(WalletView):
    @extend_schema(
        operation_id="wallet_balance_retrieve",
        responses={200: WalletSerializer, **error_responses({401: "not_authenticated"})},
    )
    def get(self, request):
        return super().get(request)


class RechargeView(APIView):
    permission_classes = [IsClient]

    @extend_schema(
        request=RechargeInSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: RECHARGE_OUT,
            **error_responses(
                {
                    400: "invalid",
                    401: "not_authenticated",
                    403: "permission_denied",
                    409: ["idempotency_key_reused", "conflict"],
                    502: "gateway_error",
                }
            ),
        },
    )
    @idempotent
    def post(self, request):
        incoming = RechargeInSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        payment = payments.create_recharge(
            user=request.user, amount=incoming.validated_data["amount"]
        )
        body = payments.checkout_fields(payment)
        stripe = body["gateway"] == "stripe"
        shape = StripeRechargeOutSerializer if stripe else RechargeOutSerializer
        return Response(shape(body).data, status=status.HTTP_201_CREATED)


class VerifyView(APIView):
    permission_classes = [IsClient]

    @extend_schema(
        request=VerifyInSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            200: VerifyOutSerializer,
            **error_responses(
                {
                    400: ["invalid", "invalid_signature"],
                    401: "not_authenticated",
                    403: "permission_denied",
                    404: "not_found",
                    409: ["payment_not_captured", "idempotency_key_reused", "conflict"],
                    502: "gateway_error",
                }
            ),
        },
    )
    @idempotent
    def post(self, request):
        incoming = VerifyInSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        if "razorpay_signature" in data:
            payment, entry = payments.verify_recharge(
                user=request.user,
                razorpay_order_id=data["razorpay_order_id"],
                razorpay_payment_id=data["razorpay_payment_id"],
                razorpay_signature=data["razorpay_signature"],
            )
        else:
            payment, entry = payments.confirm_recharge(
                user=request.user, payment_id=data["payment_id"]
            )
        body = {
            "payment_id": payment.id,
            "status": "captured",
            "transaction": entry,
            "balance": wallet_for(user=request.user).balance,
        }
        return Response(VerifyOutSerializer(body).data)


class _GatewayWebhookView(APIView):
    """A gateway's webhook: no user, no throttle; its signature over the raw body is the
    auth."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


class WebhookView(_GatewayWebhookView):
    """Razorpay's webhook (`X-Razorpay-Signature`)."""

    @extend_schema(
        auth=[],
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter(
                "X-Razorpay-Signature",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="Hex HMAC-SHA256 of the raw body with the webhook secret.",
            ),
            OpenApiParameter(
                "X-Razorpay-Event-Id",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="The event's id: a repeated id is answered 200 and ignored.",
            ),
        ],
        responses={
            200: WebhookOutSerializer,
            **error_responses({400: ["invalid_signature", "invalid"]}),
        },
    )
    def post(self, request):
        outcome = payments.handle_webhook(
            body=request.body,
            signature=request.headers.get("X-Razorpay-Signature", ""),
            event_id=request.headers.get("X-Razorpay-Event-Id", ""),
        )
        return Response({"status": outcome})


class StripeWebhookView(_GatewayWebhookView):
    """Stripe's webhook: `Stripe-Signature` over the raw body (with its timestamp tolerance) is
    the auth; an event id seen before is answered 200 and ignored."""

    @extend_schema(
        auth=[],
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter(
                "Stripe-Signature",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description='`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the '
                "webhook secret>`; a timestamp older than 5 minutes is refused.",
            ),
        ],
        responses={
            200: WebhookOutSerializer,
            **error_responses({400: ["invalid_signature", "invalid"]}),
        },
    )
    def post(self, request):
        outcome = stripe_events.handle_stripe_webhook(
            body=request.body, signature=request.headers.get("Stripe-Signature", "")
        )
        return Response({"status": outcome})


class UtcDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 timestamp turned into UTC here: PostgreSQL refuses offsets past +-15:59 and
    Python cannot move year 1 or 9999 across an offset, so those are 400 `invalid`, not 500."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class TransactionFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=[(k.value, k.label) for k in USER_ENTRY_KINDS])
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = LedgerEntry
        fields = ["kind", "created_after", "created_before"]


class TransactionListView(generics.ListAPIView):
    serializer_class = TransactionSerializer
    filterset_class = TransactionFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return LedgerEntry.objects.none()
        return (
            LedgerEntry.objects.filter(account__user=signed_in_user(self.request))
            .select_related("transaction")
            .order_by("-created_at", "-id")
        )

    @extend_schema(
        responses={
            200: TransactionSerializer(many=True),
            **error_responses({400: "invalid", 401: "not_authenticated"}),
        }
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PaymentListView(generics.ListAPIView):
    serializer_class = PaymentSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Payment.objects.none()
        return Payment.objects.filter(user=signed_in_user(self.request)).order_by(
            "-created_at", "-id"
        )

    @extend_schema(
        responses={200: PaymentSerializer(many=True), **error_responses({401: "not_authenticated"})}
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PaymentRefundListView(generics.ListAPIView):
    """A payment's refunds, for an admin or the payment's owner (404 for anyone else)."""

    serializer_class = PaymentRefundSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Refund.objects.none()
        try:
            payment_id = uuid.UUID(self.kwargs["payment_id"])
        except ValueError:
            raise NotFound() from None
        payment = Payment.objects.filter(id=payment_id).first()
        user = signed_in_user(self.request)
        if payment is None or not (user.is_admin or payment.user_id == user.id):
            raise NotFound()
        return Refund.objects.filter(payment=payment).order_by("-created_at", "-id")

    @extend_schema(
        parameters=[OpenApiParameter("payment_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        responses={
            200: PaymentRefundSerializer(many=True),
            **error_responses({400: "invalid", 401: "not_authenticated", 404: "not_found"}),
        },
    )
    def get(self, request, *args, **kwargs):
        """A refund is `pending` until the gateway confirms it (its answer, the
        `refund.processed` webhook or the reconciliation that asks it); `failed` means the
        gateway did not make it and the amount is back in the wallet."""
        return super().get(request, *args, **kwargs)


class RefundView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        request=PaymentRefundInSerializer,
        parameters=[
            IDEMPOTENCY_HEADER,
            OpenApiParameter("payment_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
        ],
        responses={
            201: PaymentRefundSerializer,
            **error_responses(
                {
                    400: "invalid",
                    401: "not_authenticated",
                    402: "insufficient_balance",
                    403: "permission_denied",
                    404: "not_found",
                    409: ["refund_exceeds_payment", "idempotency_key_reused", "conflict"],
                }
            ),
        },
    )
    @idempotent
    def post(self, request, payment_id):
        incoming = PaymentRefundInSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            payment_id = uuid.UUID(payment_id)
        except ValueError:
            raise NotFound() from None
        if not Payment.objects.filter(id=payment_id).exists():
            raise NotFound()
        refund = payments.refund_payment(
            payment_id=payment_id,
            amount=incoming.validated_data["amount"],
            reason=incoming.validated_data["reason"],
            created_by=request.user,
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        return Response(PaymentRefundSerializer(refund).data, status=status.HTTP_201_CREATED)
