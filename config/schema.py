"""OpenAPI pieces every app's views share: the error body and its documented responses."""

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable snake_case error code (see CONTRACT.md).")
    detail = serializers.CharField(help_text="A message for people; not part of the contract.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per-field messages, on 400 `invalid` only.",
    )


def error_responses(codes: dict[int, str | list[str]]) -> dict[int, OpenApiResponse]:
    """`error_responses({400: "invalid", 409: ["email_taken", "conflict"]})` for extend_schema."""
    responses = {}
    for status_code, names in codes.items():
        listed = [names] if isinstance(names, str) else list(names)
        responses[status_code] = OpenApiResponse(
            response=ErrorSerializer,
            description="Error codes: " + ", ".join(f"`{n}`" for n in listed),
        )
    return responses


__all__ = ["ErrorSerializer", "error_responses", "inline_serializer"]


_ERROR_REF = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}


def document_common_errors(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: the errors any operation can answer, documented
    once here instead of on every view: 429 everywhere, 401 where a token is required, 400 for
    a bad cursor on lists, and 400 (malformed JSON), 413 and 415 wherever a body is read."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "Error",
        {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "detail": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": True},
            },
            "required": ["code", "detail"],
        },
    )
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            responses.setdefault("429", _error("`throttled`, with a Retry-After header."))
            security = operation.get("security")
            anonymous_allowed = security is None or {} in security or not security
            if not anonymous_allowed:
                responses.setdefault("401", _error("`not_authenticated`, `token_not_valid`"))
            if any(p.get("name") == "cursor" for p in operation.get("parameters", [])):
                responses.setdefault("400", _error("`invalid` (a cursor the server did not make)"))
            if "requestBody" in operation:
                responses.setdefault("400", _error("`invalid` (also for malformed JSON)"))
                responses.setdefault("413", _error("`payload_too_large`"))
                responses.setdefault("415", _error("`unsupported_media_type`"))
    return result
