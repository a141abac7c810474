"""Every 4xx/5xx answer of the API is `{"code", "detail"}` (+ `"fields"` for 400 `invalid`).

Services raise `ApiError` (or a subclass) with the contract's code; DRF's own exceptions are
mapped here to the contract's codes; Django's 404/500 pages are JSON on `/api/` paths.
"""

import logging
from typing import TYPE_CHECKING, Any

from django.core import exceptions as django_exceptions
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config import metrics

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise  # str or a lazy translation

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with a stable contract code. Written ONE way: each code is a subclass declared
    once (the codes every app shares below, an app's own in `<app>/errors.py`), with its status
    and a default message, raised with a message for people:

        class EmailTaken(ApiError):
            status_code = 409
            code = "email_taken"
            default_detail = "An account with this email already exists."

        raise EmailTaken()
        raise NotFound("No such consultant.")

    `status=` overrides the status where the contract answers the same code differently on one
    route (409 `channel_not_offered` on a call vs 400 when starting); `headers=` adds headers.
    """

    status_code = 400
    code = "invalid"
    default_detail = _("Invalid input.")

    def __init__(
        self,
        detail: "StrOrPromise | None" = None,
        *,
        status: int | None = None,
        headers: dict | None = None,
    ):
        if not isinstance(detail, str | Promise | None):
            raise TypeError(
                "ApiError takes a message; declare the code once as a subclass "
                "(config/errors.py for shared codes, <app>/errors.py for an app's own)"
            )
        super().__init__(detail=detail or self.default_detail, code=self.code)
        if status is not None:
            self.status_code = status
        self.headers = headers or {}


# --- The codes every app shares (CONTRACT.md "Common error codes") ------------------------------


class Invalid(ApiError):
    status_code = 400
    code = "invalid"
    default_detail = _("Invalid input.")


class PermissionDenied(ApiError):
    status_code = 403
    code = "permission_denied"
    default_detail = _("You may not do this.")


class NotFound(ApiError):
    status_code = 404
    code = "not_found"
    default_detail = _("Not found.")


class Conflict(ApiError):
    status_code = 409
    code = "conflict"
    default_detail = _("This conflicts with a request in progress.")


class InvalidState(ApiError):
    status_code = 409
    code = "invalid_state"
    default_detail = _("Not possible in the current state.")


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"
    default_detail = _("The request body is too large.")


# DRF's default codes, renamed where the contract names them differently.
_CODE_FOR = {
    "parse_error": "invalid",
    "authentication_failed": "not_authenticated",
    "method_not_allowed": "method_not_allowed",
    "unsupported_media_type": "unsupported_media_type",
    "not_acceptable": "not_acceptable",
    # simplejwt's JWTAuthentication: a header without a token, or a token whose user is gone
    "bad_authorization_header": "not_authenticated",
    "user_not_found": "token_not_valid",
    "user_inactive": "token_not_valid",
    "password_changed": "token_not_valid",
}


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
        return "Invalid input."
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else "Invalid input."
    return str(detail)


def _messages(detail: Any) -> Any:
    """Validation detail as plain strings: {field: [msg, ...]} (nested for nested fields)."""
    if isinstance(detail, dict):
        return {key: _messages(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [str(item) for item in detail]
        return [_messages(item) for item in detail]
    return [str(detail)]


# --- Messages in the person's language (README "Languages") --------------------------------------
# Codes are never translated; messages are. A message is looked up in the catalogue (locale/);
# one made at run time with figures in it has no entry, and is then replaced by its code's own
# message in that language, so that no English sentence reaches a Hindi reader.

# Codes that are not an ApiError subclass of ours (DRF's, Django's, the handler's own).
_OTHER_CODE_MESSAGES = {
    "invalid": _("Invalid input."),
    "not_authenticated": _("Sign in first: the request has no valid credentials."),
    "token_not_valid": _("Token is invalid or expired."),
    "permission_denied": _("You may not do this."),
    "not_found": _("Not found."),
    "method_not_allowed": _("This method is not allowed here."),
    "unsupported_media_type": _("Send JSON (Content-Type: application/json)."),
    "not_acceptable": _("This server answers in JSON only."),
    "throttled": _("Too many requests. Try again later."),
    "payload_too_large": _("The request body is too large."),
    "server_error": _("A server error occurred."),
    "bad_request": _("Bad request."),
}
_ANY_MESSAGE = _("The request could not be completed.")
_FIELD_MESSAGE = _("This value is not valid.")


def _code_messages() -> dict[str, Any]:
    """Every code's own message: the ApiError subclasses' `default_detail`, then the rest."""
    found: dict[str, Any] = {}
    pending = list(ApiError.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        found.setdefault(cls.code, cls.default_detail)
    return {**found, **_OTHER_CODE_MESSAGES}


def _in_language(text: str) -> bool:
    """True if `text` is already written in the active language (Hindi: Devanagari in it)."""
    return any("\u0900" <= char <= "\u097f" for char in text)


def translated(detail: Any, code: str | None = None) -> str:
    """`detail` in the active language: its catalogue entry, else (a message made at run time)
    the message of its code, else a general one. English (the source language) as it is."""
    text = str(detail)
    if (translation.get_language() or "en").split("-")[0] == "en" or not text:
        return text
    if _in_language(text):
        return text
    found = gettext(text)
    if found != text:
        return found
    fallback = _code_messages().get(code or "", _ANY_MESSAGE if code else _FIELD_MESSAGE)
    return str(fallback)


def _translated_fields(fields: Any) -> Any:
    if isinstance(fields, dict):
        return {key: _translated_fields(value) for key, value in fields.items()}
    if isinstance(fields, list):
        return [_translated_fields(item) for item in fields]
    return translated(fields)


def error_body(code: str, detail: str, fields: Any = None) -> dict:
    metrics.error(code)
    body: dict[str, Any] = {"code": code, "detail": translated(detail, code)}
    if fields is not None:
        body["fields"] = _translated_fields(fields)
    return body


def message_for(error: "ApiError") -> str:
    """What a page shows for a service's error: its message in the person's language."""
    return translated(error.detail, error.code)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("payload_too_large", "The request body is too large."),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, django_exceptions.PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: Django's handler500 answers JSON and logs it

    if isinstance(exc, ApiError):
        response.data = error_body(exc.code, str(exc.detail))
        for name, value in exc.headers.items():
            response[name] = value
        return response

    if isinstance(exc, exceptions.ValidationError):
        fields = _messages(exc.detail)
        if not isinstance(fields, dict):
            fields = {"non_field_errors": fields}
        response.data = error_body("invalid", _first_message(exc.detail), fields)
        return response

    if isinstance(exc, exceptions.Throttled):
        wait = exc.wait  # type: ignore[attr-defined]  # Throttled.__init__ sets it; the stubs omit it
        response.data = error_body("throttled", "Too many requests. Try again later.")
        response["Retry-After"] = str(max(1, int(wait or 1) if wait is not None else 1))
        return response

    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    code = codes if isinstance(codes, str) else _first_message(codes)
    # simplejwt's InvalidToken carries a dict detail: {"detail", "code", "messages"}
    if isinstance(detail, dict) and "code" in detail:
        code = str(detail["code"])
        detail = detail.get("detail", "Token is invalid.")
    response.data = error_body(_CODE_FOR.get(code, code), _first_message(detail))
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def json_404(request: HttpRequest, exception: Exception | None = None):
    if _is_api(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def json_500(request: HttpRequest):
    if _is_api(request):
        return JsonResponse(error_body("server_error", "A server error occurred."), status=500)
    from django.views.defaults import server_error

    return server_error(request)


def json_400(request: HttpRequest, exception: Exception):
    if _is_api(request):
        return JsonResponse(error_body("bad_request", "Bad request."), status=400)
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def json_403(request: HttpRequest, exception: Exception):
    if _is_api(request):
        return JsonResponse(error_body("permission_denied", "Permission denied."), status=403)
    from django.views.defaults import permission_denied

    return permission_denied(request, exception)
