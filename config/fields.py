"""Serializer fields that check JSON types instead of coercing them.

DRF turns `"100"` and `100.5` into 100, `1` into True and `123` into "123"; for money,
flags and ids that hides a client's bug, so every app's input serializers use these.
"""

import uuid
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class StrictIntegerField(serializers.IntegerField):
    """An integer that must arrive as a JSON integer: 100.5, "100" and true are refused."""

    default_error_messages = {"invalid": _("A whole number is required (not a string or decimal).")}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": _("true or false is required.")}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictCharField(serializers.CharField):
    """A string, and only a string: numbers are not quietly turned into text."""

    default_error_messages = {"invalid": _("A string is required.")}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictEmailField(serializers.EmailField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    """A UUID that must arrive as a string (DRF would also take an integer)."""

    def to_internal_value(self, data: Any) -> uuid.UUID:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)
