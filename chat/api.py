"""Chat over HTTP (CONTRACT.md "Consultations"): message history and the ICE servers of a call.

Choices the contract leaves open, made here:

* History pages are `{results, next, previous}` like every list; `next` carries `?before=` the
  oldest message of the page; `previous` is always null (the history is read backwards).
* A `before` that is not a message of this consultation is 400 `invalid`, not an empty page.
* `rtc` answers participants only (an admin is not in the call); a chat consultation is 409
  `channel_not_offered` whatever its status; a consultation that is no longer pending or active
  (ended, declined, cancelled, expired) is 409 `invalid_state`: no TURN credentials for a call
  that is over.
"""

from datetime import UTC
from urllib.parse import urlencode

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import selectors
from chat.asyncapi import build_document
from chat.models import Message
from chat.rtc import ice_config
from chat.serializers import MessageSerializer
from config.errors import InvalidState
from config.pagination import PageSizeField
from config.schema import error_responses
from consultations.errors import ChannelNotOffered
from consultations.models import OPEN_STATUSES

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class QueryUUIDField(serializers.UUIDField):
    """A UUID in the query string: `?before=` (empty) is an invalid UUID, not an absent one
    (DRF reads an empty query value of an optional field as missing)."""

    def get_value(self, dictionary):
        return dictionary.get(self.field_name, empty)


class HistoryQuerySerializer(serializers.Serializer):
    before = QueryUUIDField(required=False, help_text="A message id: older ones only.")
    page_size = PageSizeField(default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)


class MessagePageSerializer(serializers.Serializer):
    results = MessageSerializer(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class HistoryView(APIView):
    @extend_schema(
        summary="A consultation's messages, newest first (participants and admins)",
        parameters=[
            OpenApiParameter("before", OpenApiTypes.UUID, description="A message id."),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="1 to 100 (20)."),
        ],
        responses={
            200: MessagePageSerializer,
            **error_responses({400: "invalid", 404: "not_found"}),
        },
    )
    def get(self, request: Request, pk) -> Response:
        consultation = selectors.visible_consultation(user=request.user, consultation_id=pk)
        query = HistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        before = None
        if "before" in query.validated_data:
            before = Message.objects.filter(
                id=query.validated_data["before"], consultation_id=consultation.id
            ).first()
            if before is None:
                raise serializers.ValidationError(
                    {"before": ["No such message in this consultation."]}
                )
        size = query.validated_data["page_size"]
        page = list(selectors.history(consultation_id=consultation.id, before=before)[: size + 1])
        more, page = len(page) > size, page[:size]
        next_url = None
        if more:
            params = urlencode({"before": str(page[-1].id), "page_size": size})
            next_url = request.build_absolute_uri(f"{request.path}?{params}")
        return Response(
            {
                "results": MessageSerializer(page, many=True).data,
                "next": next_url,
                "previous": None,
            }
        )


class IceServerSerializer(serializers.Serializer):
    urls = serializers.ListField(child=serializers.CharField())
    username = serializers.CharField(required=False)
    credential = serializers.CharField(required=False)


class RtcSerializer(serializers.Serializer):
    ice_servers = IceServerSerializer(many=True)
    expires_at = serializers.DateTimeField(default_timezone=UTC)


class RtcView(APIView):
    @extend_schema(
        summary="ICE servers for a voice or video consultation (its participants)",
        responses={
            200: RtcSerializer,
            **error_responses({404: "not_found", 409: ["channel_not_offered", "invalid_state"]}),
        },
    )
    def get(self, request: Request, pk) -> Response:
        session = selectors.session_for(user_id=request.user.id, session_id=pk)
        if session.channel not in ("voice", "video"):
            raise ChannelNotOffered("Chat consultations have no call.", status=409)
        if session.status not in OPEN_STATUSES:
            raise InvalidState(f"The consultation is {session.status}: its call is over.")
        config = ice_config(user_id=request.user.id)
        return Response(
            RtcSerializer({"ice_servers": config.ice_servers, "expires_at": config.expires_at}).data
        )


@require_GET
def asyncapi_document(request: HttpRequest) -> JsonResponse:
    """`GET /api/asyncapi.json`: the WebSocket described (AsyncAPI 3; chat/asyncapi.py). Public,
    like the OpenAPI schema; the server entry names the host and scheme it was asked on."""
    document = build_document(host=request.get_host(), secure=request.is_secure())
    return JsonResponse(document, json_dumps_params={"indent": 1})
