"""OpenAPI pieces every app's views share: the error body and its documented responses."""

import re
from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable snake_case error code (see CONTRACT.md).")
    detail = serializers.CharField(help_text="A message for people; not part of the contract.")
    # The contract's `fields` key; the serializer's metaclass takes declared fields out of the
    # class, so Serializer.fields (the stubs' BindingDict) is not replaced.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per-field messages, on 400 `invalid` only.",
    )


def error_responses(codes: Mapping[int, str | list[str]]) -> dict[int, OpenApiResponse]:
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
    once here instead of on every view: 429 everywhere, 401 where a token is required or read,
    400 for a bad cursor on lists, and 400 (malformed JSON), 413 and 415 wherever a body is
    read."""
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
            elif any(requirement for requirement in security or []):
                # Open to anyone, but a token that is sent is checked: an expired one is 401.
                responses.setdefault("401", _error("`token_not_valid` (a token sent is checked)"))
            if any(p.get("name") == "cursor" for p in operation.get("parameters", [])):
                responses.setdefault("400", _error("`invalid` (a cursor the server did not make)"))
            if "requestBody" in operation:
                responses.setdefault("400", _error("`invalid` (also for malformed JSON)"))
                responses.setdefault("413", _error("`payload_too_large`"))
                responses.setdefault("415", _error("`unsupported_media_type`"))
    return result


# --- What the serializers cannot tell drf-spectacular ---------------------------------------------

# DRF refuses a NUL character in every string (ProhibitNullCharactersValidator) and trims the
# surrounding whitespace of most (so "  " is blank): the schema says both, so that a client (or
# a fuzzer) knows which strings are acceptable before it sends them.
NO_NUL = "^[^\\u0000]*$"
NOT_BLANK = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"
PAGE_SIZE = {"type": "integer", "minimum": 1, "maximum": 100}
# discovery's `min_rating`: a decimal from 0 to 5 with at most two places (DRF's DecimalField).
MIN_RATING = {
    "type": "string",
    "pattern": r"^\s*(5(\.0{0,2})?|[0-4](\.[0-9]{0,2})?|\.[0-9]{1,2})\s*$",
}


# Rules between fields, which a serializer's `validate()` checks and no field can say.
CROSS_FIELD_RULES: dict[str, dict] = {
    # PATCH /consultants/{id}/verify: rejecting (is_verified false) needs a reason.
    "VerifyRequest": {
        "anyOf": [
            {"properties": {"is_verified": {"enum": [True]}}},
            {
                "properties": {"reason": {"minLength": 1, "pattern": NOT_BLANK}},
                "required": ["reason"],
            },
        ]
    },
}


# Request objects whose serializers refuse a key they do not know (400 `invalid` naming it).
CLOSED_OBJECTS = {"RatesRequest"}


def _tighten_string(schema: dict) -> None:
    """A NUL-free pattern (not blank either where a value is required) on a free-text string
    that has no pattern, format or enum of its own."""
    if schema.get("type") != "string" or {"pattern", "format", "enum"} & schema.keys():
        return
    schema["pattern"] = NOT_BLANK if schema.get("minLength", 0) >= 1 else NO_NUL


def _drop_redundant_blank(schema: dict) -> None:
    """drf-spectacular writes a blank-allowed string with a pattern as `oneOf: [the string,
    a blank string]`; where the pattern matches "" already, "" would match both and break the
    `oneOf`: the pattern alone says it."""
    branches = schema.get("oneOf")
    if not isinstance(branches, list) or len(branches) != 2:
        return
    first, second = branches
    if second.get("maxLength") == 0 and re.search(first.get("pattern", "(?!)"), ""):
        del schema["oneOf"]
        schema.update(first)


def _tighten(schema: Any) -> None:
    if isinstance(schema, list):
        for item in schema:
            _tighten(item)
        return
    if not isinstance(schema, dict):
        return
    _drop_redundant_blank(schema)
    _tighten_string(schema)
    for key in ("properties", "patternProperties"):
        for value in schema.get(key, {}).values():
            _tighten(value)
    for key in ("items", "additionalProperties", "allOf", "anyOf", "oneOf", "not"):
        if key in schema:
            _tighten(schema[key])


def make_exact(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: the rules of the inputs that serializers and
    `OpenApiParameter`s leave out. Every request body's and query parameter's free-text string
    is NUL-free (and non-blank where required), every `page_size` is 1 to 100 (anything else
    answers 400 `invalid`, config/pagination.py), `category` lists the categories that exist
    (read when the schema is made: operators add categories in the admin), and the objects of
    CLOSED_OBJECTS take no other keys."""
    from django.core.exceptions import SynchronousOnlyOperation
    from django.db import DatabaseError

    from consultants.models import Category

    try:
        categories = sorted(Category.objects.values_list("slug", flat=True))
    except (DatabaseError, RuntimeError, SynchronousOnlyOperation):
        # No database to read (`make schema` before `migrate`; a test collecting the schema
        # while pytest-django blocks the database; the AsyncAPI document built inside an event
        # loop): the categories every install starts with.
        from importlib import import_module

        seeded = import_module("consultants.migrations.0002_seed_categories").CATEGORIES
        categories = sorted(slug for slug, _ in seeded)
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            _tighten(schema)
            schema.update(CROSS_FIELD_RULES.get(name, {}))
            if name in CLOSED_OBJECTS:
                schema["additionalProperties"] = False
            for field, prop in schema.get("properties", {}).items():
                if field == "category" and categories:
                    prop.pop("pattern", None)
                    prop["enum"] = [*categories, *([None] if prop.get("nullable") else [])]
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") != "query":
                    continue
                schema = parameter.setdefault("schema", {})
                if parameter["name"] == "page_size":
                    parameter["schema"] = dict(PAGE_SIZE)
                elif parameter["name"] == "min_rating":
                    parameter["schema"] = dict(MIN_RATING)
                elif parameter["name"] == "category" and categories:
                    parameter["schema"] = {"type": "string", "enum": categories}
                else:
                    _tighten(schema)
    return result
