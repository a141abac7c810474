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
