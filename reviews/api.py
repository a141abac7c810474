"""Reviews over HTTP (CONTRACT.md "Reviews and earnings"): thin views over the service.

Choices: a malformed `consultation_id` is refused with 400 `invalid`; a well-formed id of a
consultation that is not the caller's (or of none) gets 404. The list of a consultant's reviews
is public, newest first, and 404 for an unknown or unverified consultant (as the consultant's
own page is).
"""

from datetime import UTC

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsClient
from config.errors import NotFound
from config.fields import StrictCharField, StrictIntegerField, StrictUUIDField
from config.schema import error_responses
from consultants.models import ConsultantProfile
from reviews.models import MAX_COMMENT_LENGTH, Review
from reviews.services import create_review


class ReviewInSerializer(serializers.Serializer):
    consultation_id = StrictUUIDField()
    rating = StrictIntegerField(min_value=1, max_value=5)
    comment = StrictCharField(
        max_length=MAX_COMMENT_LENGTH, required=False, allow_blank=True, default=""
    )


class ReviewSerializer(serializers.ModelSerializer):
    """`review` (CONTRACT.md)."""

    consultation_id = serializers.UUIDField(read_only=True)
    consultant_id = serializers.UUIDField(read_only=True)
    client_name = serializers.CharField(
        source="client.public_name",
        read_only=True,
        help_text='The client\'s first name and the initial of the last ("Asha V.").',
    )
    created_at = serializers.DateTimeField(read_only=True, default_timezone=UTC)

    class Meta:
        model = Review
        fields = [
            "id",
            "consultation_id",
            "consultant_id",
            "client_name",
            "rating",
            "comment",
            "created_at",
        ]
        read_only_fields = fields


class ReviewCreateView(APIView):
    permission_classes = [IsClient]

    @extend_schema(
        operation_id="review_create",
        request=ReviewInSerializer,
        responses={
            201: ReviewSerializer,
            **error_responses(
                {
                    400: "invalid",
                    401: "not_authenticated",
                    403: "permission_denied",
                    404: "not_found",
                    409: ["already_reviewed", "invalid_state"],
                }
            ),
        },
        description="The client of an ended or force-ended consultation rates it (1-5), once; "
        "the consultant's `rating` and `rating_count` are updated.",
    )
    def post(self, request):
        incoming = ReviewInSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        review = create_review(client=request.user, **incoming.validated_data)
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)


class ConsultantReviewListView(generics.ListAPIView):
    permission_classes = [AllowAny]
    # Public and the same for everyone: a token is not read (the schema says `auth=[]`), so an
    # expired one is no 401 here, as on GET /categories.
    authentication_classes: list = []
    serializer_class = ReviewSerializer
    filter_backends: list = []

    def get_queryset(self):
        consultant_id = self.kwargs["consultant_id"]
        if not ConsultantProfile.objects.filter(id=consultant_id, is_verified=True).exists():
            raise NotFound("No such consultant.")
        return (
            Review.objects.filter(consultant_id=consultant_id)
            .select_related("client")
            .order_by("-created_at", "-id")
        )

    @extend_schema(
        operation_id="consultant_reviews_list",
        auth=[],
        responses={200: ReviewSerializer(many=True), **error_responses({404: "not_found"})},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
