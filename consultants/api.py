"""Consultants over HTTP (CONTRACT.md "Consultants"): thin views over services and selectors.

Choices the contract leaves open, made here:

* `rates` lists only the channels offered: `{"chat": 2000, "voice": 3000}` means video is not
  offered. In a PATCH, `rates` is the whole price list: a channel missing from it, or null, is
  no longer offered (so GET, edit, PATCH round-trips).
* `specialization=` and `language=` match one whole list item, case-insensitively; `search=`
  matches substrings of the name, the bio and the specializations.
* The default ordering is `-rating`; ties always break on `id`, so pages never overlap.
* An unknown `category=` (filter or profile) is 400 `invalid` with `fields.category`.
"""

from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, permissions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdmin, IsConsultant, signed_in_user
from config.errors import NotFound
from config.fields import StrictBooleanField, StrictCharField, StrictIntegerField
from config.schema import error_responses
from consultants import selectors, services
from consultants.models import (
    Category,
    Channel,
    ConsultantDocument,
    ConsultantProfile,
    DocumentKind,
)
from consultants.pagination import KeysetPagination, OrderedCursorPagination

LIST_ITEM_MAX_LENGTH = 50
LIST_MAX_ITEMS = 20
_INT_LIMIT = 2**62  # beyond any rate; keeps every bound inside a PostgreSQL bigint


# --- Fields ----------------------------------------------------------------------------------


# A list item: not blank once trimmed, no NUL, no `|` (the search key's separator).
TAG_PATTERN = "^[^|\\u0000]*[^|\\s\\u0000][^|\\u0000]*$"


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "string",
            "minLength": 1,
            "maxLength": LIST_ITEM_MAX_LENGTH,
            "pattern": TAG_PATTERN,
        },
        "maxItems": LIST_MAX_ITEMS,
        "uniqueItems": True,
        "description": "No `|` in an item; no item twice (ignoring case and the spaces around).",
    }
)
class TagListField(serializers.ListField):
    """A short list of short strings: trimmed, no `|`, no duplicates (ignoring case)."""

    child = StrictCharField(max_length=LIST_ITEM_MAX_LENGTH, allow_blank=False)

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("max_length", LIST_MAX_ITEMS)
        kwargs.setdefault("allow_empty", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        items = super().to_internal_value(data)
        if any("|" in item for item in items):
            raise serializers.ValidationError("An item may not contain '|'.")
        folded = [item.casefold() for item in items]
        if len(set(folded)) != len(folded):
            raise serializers.ValidationError("Items must not repeat.")
        return items


def _flat_messages(detail: Any, prefix: str = "") -> list[str]:
    """Nested errors (a rate of `rates`, an item of `languages`) as plain messages naming the
    part: the contract's `fields` maps a field to a list of strings."""
    if isinstance(detail, dict):
        return [m for key, value in detail.items() for m in _flat_messages(value, f"{key}: ")]
    if isinstance(detail, list):
        return [m for item in detail for m in _flat_messages(item, prefix)]
    return [f"{prefix}{detail}"]


def validated(serializer: serializers.Serializer) -> dict:
    if not serializer.is_valid():
        errors = serializer.errors
        raise serializers.ValidationError(
            {field: _flat_messages(value) for field, value in errors.items()}
        )
    return serializer.validated_data


# --- serializers -------------------------------------------------------------------------------


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["slug", "name"]


class RatesSerializer(serializers.Serializer):
    """Paise per minute. A channel missing (or null) is not offered."""

    chat = StrictIntegerField(
        min_value=1, max_value=settings.MAX_RATE_PER_MINUTE, required=False, allow_null=True
    )
    voice = StrictIntegerField(
        min_value=1, max_value=settings.MAX_RATE_PER_MINUTE, required=False, allow_null=True
    )
    video = StrictIntegerField(
        min_value=1, max_value=settings.MAX_RATE_PER_MINUTE, required=False, allow_null=True
    )

    def to_internal_value(self, data: Any) -> dict:
        if isinstance(data, dict):
            unknown = sorted(set(data) - {c.value for c in Channel})
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Not a channel (chat, voice, video)."] for name in unknown[:5]}
                )
        return super().to_internal_value(data)

    def to_representation(self, instance: ConsultantProfile) -> dict:
        return instance.rates


class ConsultantSerializer(serializers.ModelSerializer):
    """The contract's `consultant`."""

    user_id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(source="user.name", read_only=True)
    category: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True
    )
    specializations = serializers.ListField(child=serializers.CharField(), read_only=True)
    languages = serializers.ListField(child=serializers.CharField(), read_only=True)
    rates = RatesSerializer(source="*", read_only=True)
    rating = serializers.DecimalField(
        max_digits=3,
        decimal_places=2,
        min_value=0,
        max_value=5,
        coerce_to_string=False,
        read_only=True,
        help_text="The average review, 0 to 5, two decimals (0 before the first review).",
    )

    class Meta:
        model = ConsultantProfile
        fields = [
            "id",
            "user_id",
            "name",
            "category",
            "specializations",
            "languages",
            "bio",
            "experience_years",
            "rates",
            "is_verified",
            "is_online",
            "is_busy",
            "rating",
            "rating_count",
            "total_sessions",
        ]
        read_only_fields = fields

    def to_representation(self, profile: ConsultantProfile) -> dict[str, Any]:
        # Hand-built: discovery serializes a page per request and DRF's field-by-field walk
        # was the larger part of its time. The declared fields above stay the schema;
        # test_the_representation_matches_the_declared_fields keeps the two in step.
        rating = profile.rating.quantize(Decimal("0.01")) if profile.rating is not None else None
        return {
            "id": str(profile.id),
            "user_id": str(profile.user_id),
            "name": profile.user.name,
            "category": profile.category.slug if profile.category is not None else None,
            "specializations": list(profile.specializations or []),
            "languages": list(profile.languages or []),
            "bio": profile.bio,
            "experience_years": profile.experience_years,
            "rates": profile.rates,
            "is_verified": profile.is_verified,
            "is_online": profile.is_online,
            "is_busy": profile.is_busy,
            "rating": float(rating) if rating is not None else None,
            "rating_count": profile.rating_count,
            "total_sessions": profile.total_sessions,
        }


class ProfileUpdateSerializer(serializers.Serializer):
    bio = StrictCharField(max_length=4000, allow_blank=True, trim_whitespace=True, required=False)
    category = StrictCharField(max_length=50, required=False, help_text="A category's slug.")
    specializations = TagListField(required=False)
    languages = TagListField(required=False)
    experience_years = StrictIntegerField(min_value=0, max_value=80, required=False)
    rates = RatesSerializer(required=False)

    def validate_category(self, slug: str) -> Category:
        category = Category.objects.filter(slug=slug).first()
        if category is None:
            raise serializers.ValidationError("Unknown category.")
        return category

    def validate(self, attrs: dict) -> dict:
        if "rates" in attrs:
            attrs["rates"] = {k: v for k, v in attrs["rates"].items() if v is not None}
        return attrs


class AvailabilitySerializer(serializers.Serializer):
    is_online = StrictBooleanField()


class VerifySerializer(serializers.Serializer):
    is_verified = StrictBooleanField()
    reason = StrictCharField(
        max_length=1000,
        required=False,
        allow_blank=True,
        help_text="Why; required when is_verified is false.",
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs["is_verified"] and not attrs.get("reason", "").strip():
            raise serializers.ValidationError({"reason": ["A reason is required to reject."]})
        return attrs


class DocumentSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsultantDocument
        fields = ["id", "kind", "original_name", "content_type", "size", "uploaded_at"]
        read_only_fields = fields


class DocumentUploadSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DocumentKind.choices)
    file = serializers.FileField(max_length=255, allow_empty_file=False)


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": LIST_ITEM_MAX_LENGTH,
        "pattern": TAG_PATTERN,
        "description": "One whole item of the list, ignoring case; no `|`.",
    }
)
class TagFilterField(serializers.CharField):
    """`specialization=` / `language=`: an item as TagListField takes it; one with `|` could
    match none and is refused (DiscoveryQuerySerializer.validate), which the schema says."""


class DiscoveryQuerySerializer(serializers.Serializer):
    category = serializers.SlugField(max_length=50, required=False)
    specialization = TagFilterField(max_length=LIST_ITEM_MAX_LENGTH, required=False)
    language = TagFilterField(max_length=LIST_ITEM_MAX_LENGTH, required=False)
    online = serializers.BooleanField(required=False, allow_null=True, default=None)
    min_rating = serializers.DecimalField(
        max_digits=3, decimal_places=2, min_value=0, max_value=5, required=False
    )
    max_rate = serializers.IntegerField(min_value=0, max_value=_INT_LIMIT, required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    search = serializers.CharField(max_length=100, required=False)
    ordering = serializers.ChoiceField(
        choices=sorted(selectors.ORDERINGS), default=selectors.DEFAULT_ORDERING
    )

    def validate(self, attrs: dict) -> dict:
        for name in ("specialization", "language"):
            if "|" in attrs.get(name, ""):
                raise serializers.ValidationError({name: ["May not contain '|'."]})
        return attrs


class WholeBodySchema(AutoSchema):
    """For PATCH routes whose body is validated whole (`is_online`, `is_verified` required):
    drf-spectacular would document every PATCH body as partial, all fields optional."""

    def _get_request_for_media_type(self, serializer: Any, direction: str = "request"):
        method, self.method = self.method, "PUT"
        try:
            return super()._get_request_for_media_type(serializer, direction)
        finally:
            self.method = method


# --- views -----------------------------------------------------------------------------------


class CategoryPagination(OrderedCursorPagination):
    page_size = 100
    ordering = ("slug",)


class CategoryListView(generics.ListAPIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    serializer_class = CategorySerializer
    pagination_class = CategoryPagination
    queryset = Category.objects.all()
    filter_backends: list = []

    @extend_schema(
        operation_id="categories_list",
        summary="The consultant categories",
        tags=["consultants"],
        responses={200: CategorySerializer(many=True), **error_responses({400: "invalid"})},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


_DISCOVERY_PARAMETERS = [
    OpenApiParameter("cursor", OpenApiTypes.STR, description="From `next` or `previous`."),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="1 to 100 (default 20)."),
]


class ConsultantPage(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ConsultantSerializer(many=True)


class ConsultantListView(APIView):
    """Discovery: verified consultants only, filtered and ordered, keyset-paginated."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(
        operation_id="consultants_list",
        summary="Find verified consultants",
        tags=["consultants"],
        parameters=[DiscoveryQuerySerializer, *_DISCOVERY_PARAMETERS],
        responses={200: ConsultantPage, **error_responses({400: "invalid"})},
    )
    def get(self, request: Request) -> Response:
        params = validated(DiscoveryQuerySerializer(data=request.query_params))
        category_id = None
        if params.get("category"):
            category_id = services.category_by_slug(params["category"]).pk
        filters = selectors.DiscoveryFilters(
            category_id=category_id,
            specialization=(params.get("specialization") or "").strip() or None,
            language=(params.get("language") or "").strip() or None,
            online=params.get("online"),
            min_rating=params.get("min_rating"),
            max_rate=params.get("max_rate"),
            channel=params.get("channel"),
            search=(params.get("search") or "").strip() or None,
        )
        paginator = KeysetPagination(
            keys=selectors.sort_keys(params["ordering"]), name=params["ordering"]
        )
        rows = paginator.paginate_queryset(selectors.discover_consultants(filters=filters), request)
        # many=True makes a ListSerializer, whose data is a list; the stubs type the call as the
        # one-object serializer (data: a dict).
        data = ConsultantSerializer(rows, many=True).data
        return paginator.get_paginated_response(data)  # type: ignore[arg-type]


class ConsultantDetailView(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        operation_id="consultants_retrieve",
        summary="One verified consultant",
        tags=["consultants"],
        responses={200: ConsultantSerializer, **error_responses({404: "not_found"})},
    )
    def get(self, request: Request, pk: Any) -> Response:
        profile = selectors.public_consultant(consultant_id=pk)
        if profile is None:
            raise NotFound("No such consultant.")
        return Response(ConsultantSerializer(profile).data)


class MyProfileView(APIView):
    permission_classes = [IsConsultant]

    @extend_schema(
        operation_id="consultants_me_retrieve",
        summary="My consultant profile",
        tags=["consultants"],
        responses={
            200: ConsultantSerializer,
            **error_responses({401: "not_authenticated", 403: "permission_denied"}),
        },
    )
    def get(self, request: Request) -> Response:
        profile = services.profile_for(user=signed_in_user(request))
        return Response(ConsultantSerializer(profile).data)

    @extend_schema(
        operation_id="consultants_me_update",
        summary="Edit my consultant profile",
        tags=["consultants"],
        request=ProfileUpdateSerializer,
        responses={
            200: ConsultantSerializer,
            **error_responses({400: "invalid", 401: "not_authenticated", 403: "permission_denied"}),
        },
    )
    def patch(self, request: Request) -> Response:
        changes = validated(ProfileUpdateSerializer(data=request.data))
        profile = services.profile_for(user=signed_in_user(request))
        profile = services.update_profile(profile=profile, changes=changes)
        return Response(ConsultantSerializer(profile).data)


class MyAvailabilityView(APIView):
    permission_classes = [IsConsultant]
    schema = WholeBodySchema()

    @extend_schema(
        operation_id="consultants_me_availability",
        summary="Go online or offline",
        description="Only a verified consultant can go online. Going offline ends nothing.",
        tags=["consultants"],
        request=AvailabilitySerializer,
        responses={
            200: ConsultantSerializer,
            **error_responses(
                {
                    400: "invalid",
                    401: "not_authenticated",
                    403: ["consultant_not_verified", "permission_denied"],
                }
            ),
        },
    )
    def patch(self, request: Request) -> Response:
        body = validated(AvailabilitySerializer(data=request.data))
        profile = services.profile_for(user=signed_in_user(request))
        profile = services.set_availability(profile=profile, is_online=body["is_online"])
        return Response(ConsultantSerializer(profile).data)


class VerifyView(APIView):
    permission_classes = [IsAdmin]
    schema = WholeBodySchema()

    @extend_schema(
        operation_id="consultants_verify",
        summary="Verify or reject a consultant (operators)",
        description="Every decision is recorded (who, when, what, why). Rejecting needs a "
        "`reason`; it also takes an online consultant offline.",
        tags=["consultants"],
        request=VerifySerializer,
        responses={
            200: ConsultantSerializer,
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
    def patch(self, request: Request, pk: Any) -> Response:
        body = validated(VerifySerializer(data=request.data))
        profile = ConsultantProfile.objects.filter(pk=pk).first()
        if profile is None:
            raise NotFound("No such consultant.")
        profile = services.decide_verification(
            profile=profile,
            decided_by=signed_in_user(request),
            is_verified=body["is_verified"],
            reason=body.get("reason", ""),
            via="api",
        )
        return Response(ConsultantSerializer(profile).data)


class DocumentPagination(OrderedCursorPagination):
    ordering = ("-uploaded_at", "-id")


class MyDocumentsView(generics.ListAPIView):
    """Identity and qualification documents, for the operators' review. Never served back:
    the list says what was sent, not where it is."""

    permission_classes = [IsConsultant]
    parser_classes = [MultiPartParser]
    serializer_class = DocumentSerializer
    pagination_class = DocumentPagination
    filter_backends: list = []

    def get_queryset(self):
        return ConsultantDocument.objects.filter(profile__user=signed_in_user(self.request))

    @extend_schema(
        operation_id="consultants_me_documents_list",
        summary="My uploaded documents",
        tags=["consultants"],
        responses={
            200: DocumentSerializer(many=True),
            **error_responses({400: "invalid", 403: "permission_denied"}),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="consultants_me_documents_create",
        summary="Upload a document for verification",
        description=f"PDF, PNG or JPEG (read from the file itself), at most "
        f"{settings.MAX_UPLOAD_BYTES} bytes; at most {settings.DOCUMENTS_MAX_COUNT} documents "
        f"of {settings.DOCUMENTS_MAX_TOTAL_BYTES} bytes in all per consultant.",
        tags=["consultants"],
        request={"multipart/form-data": DocumentUploadSerializer},
        responses={
            201: DocumentSerializer,
            **error_responses(
                {
                    400: "invalid",
                    401: "not_authenticated",
                    403: "permission_denied",
                    409: "document_quota_exceeded",
                    413: "payload_too_large",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        body = validated(DocumentUploadSerializer(data=request.data))
        profile = services.profile_for(user=signed_in_user(request))
        document = services.add_document(profile=profile, kind=body["kind"], upload=body["file"])
        return Response(DocumentSerializer(document).data, status=status.HTTP_201_CREATED)
