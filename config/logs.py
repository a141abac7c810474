"""Logging: one JSON object a line from every process (daphne, Celery workers, beat), or plain
text for a person at a terminal.

`LOG_FORMAT` picks the shape: `json` (the default with `DEBUG=0`) or `text` (the default with
`DEBUG=1`). Each JSON line holds `timestamp` (ISO 8601, UTC), `level`, `logger`, `message`,
whatever the call passed in `extra=`, and the context of the work being done where it is
known: `request_id`, `user_id`, `consultation_id` (an HTTP request, a WebSocket frame),
`task_id` and `task` (a Celery task).

The context lives in one `ContextVar` holding a dict, so it follows the work across
`sync_to_async` threads and asyncio tasks. A request's dict is made once at its edge
(`config.observability` for ASGI, `config.request_context` for Django) and filled in as the
request learns more (the user once authentication has run), so that the access line written
after the response carries them too.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# The fields a context may carry, in the order text lines show them.
CONTEXT_FIELDS = ("request_id", "user_id", "consultation_id", "task", "task_id")

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "log_context", default=None
)

# CONTRACT.md "request ids": the caller's id is kept when it is 1-128 safe characters.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:=+/@-]{1,128}")


def request_id_from(header: str | bytes | None) -> str:
    """The caller's `X-Request-ID` when it is 1-128 safe characters, else a new one."""
    if isinstance(header, bytes):
        try:
            header = header.decode("ascii")
        except UnicodeDecodeError:
            header = None
    if header and _SAFE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def current() -> dict[str, Any]:
    """The context of the work in progress (the live dict: a request's edge fills it in)."""
    context = _context.get()
    return context if context is not None else {}


def start(**fields: Any) -> contextvars.Token:
    """Makes a fresh context for a unit of work (a request, a task); `finish` ends it."""
    return _context.set({key: value for key, value in fields.items() if value is not None})


def finish(token: contextvars.Token) -> None:
    _context.reset(token)


def update(**fields: Any) -> None:
    """Adds to the current context in place (seen by everyone sharing it)."""
    context = _context.get()
    if context is None:
        _context.set({key: value for key, value in fields.items() if value is not None})
        return
    for key, value in fields.items():
        if value is None:
            context.pop(key, None)
        else:
            context[key] = value


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """`with bound(consultation_id=...):` adds fields for the block only."""
    merged = {**current(), **{key: value for key, value in fields.items() if value is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def _user_id(request: Any) -> Any:
    """The request's user id once authentication has run, without running it here (a log
    line must not cost a query): Django's lazy user is read only when already evaluated; DRF
    puts the user it authenticated on the Django request."""
    user = request.__dict__.get("user") if request is not None else None
    if user is None:
        return None
    from django.utils.functional import empty

    wrapped = getattr(user, "_wrapped", user)
    if wrapped is None or wrapped is empty:  # a lazy user nobody has asked for yet
        return None
    if not getattr(wrapped, "is_authenticated", False):
        return None
    return getattr(wrapped, "pk", None)


def user_id_now() -> Any:
    context = current()
    return context.get("user_id") or _user_id(context.get("_request"))


class ContextFilter(logging.Filter):
    """Puts the current context's fields on every record (a field passed in `extra=` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current()
        for name in CONTEXT_FIELDS:
            if getattr(record, name, None) is not None:
                continue
            value = user_id_now() if name == "user_id" else context.get(name)
            if value is not None:
                setattr(record, name, str(value))
        return True


class TextFormatter(logging.Formatter):
    """`time LEVEL logger message key=value ...`: the context, for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [
            f"{name}={getattr(record, name)}"
            for name in CONTEXT_FIELDS
            if getattr(record, name, None) is not None
        ]
        if not extras:
            return line
        head, _, tail = line.partition("\n")
        return f"{head} {' '.join(extras)}" + (f"\n{tail}" if tail else "")


# Attributes of Django's and daphne's records that are not log data (the request object, the
# server's clock) and would only be stringified.
_NOT_DATA = ("request", "server_time")


def logging_config(*, fmt: str, level: str) -> dict:
    """The `LOGGING` dict for the settings (and for Celery's processes, which apply the same)."""
    if fmt not in {"json", "text"}:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"LOG_FORMAT={fmt!r}: use json or text")
    from pythonjsonlogger.core import RESERVED_ATTRS

    # Python's warnings (a library's deprecation, Celery's "running as root") become log
    # records too, so they are JSON lines like the rest.
    logging.captureWarnings(True)

    formatters = {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "timestamp",
            "reserved_attrs": [*RESERVED_ATTRS, *_NOT_DATA],
        },
        "text": {
            "()": "config.logs.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "config.logs.ContextFilter"}},
        "formatters": {fmt: formatters[fmt]},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": fmt,
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's defaults give `django` and `django.server` handlers of their own (plain
            # text when DEBUG=1); here every line goes through the one handler above.
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.server": {"handlers": [], "level": "INFO", "propagate": True},
            "django.request": {"level": "ERROR"},
            "daphne": {"level": "WARNING"},
            # Twisted's own lines (daphne's server) come through the stdlib observer.
            "twisted": {"level": "WARNING"},
            "celery.app.trace": {"level": "WARNING"},
        },
    }


# --- Celery -------------------------------------------------------------------------------------


def connect_celery(app: Any) -> None:
    """Celery's workers and beat log through the same `LOGGING` (no formatter of Celery's own:
    a receiver of `setup_logging` tells Celery to leave logging alone), and every line written
    while a task runs carries its `task` and `task_id`."""
    from celery import signals

    @signals.setup_logging.connect(weak=False)
    def _configure(**kwargs: Any) -> None:
        import logging.config

        from django.conf import settings

        logging.config.dictConfig(settings.LOGGING)

    # The worker's signal handlers announce a shutdown by writing straight to fd 2
    # (`celery.apps.worker.safe_say`: no lock taken inside a signal handler). Same here, but
    # the line is formatted by the root handler, so it is a JSON line like every other.
    from celery.apps import worker as worker_app

    def say(message: str, f: Any = None) -> None:
        record = logging.LogRecord(
            "celery.worker", logging.WARNING, __file__, 0, message.strip(), None, None
        )
        handlers = logging.getLogger().handlers
        line = handlers[0].format(record) if handlers else message.strip()
        os.write(2, f"{line}\n".encode())

    worker_app.safe_say = say

    tokens: dict[str, contextvars.Token] = {}

    @signals.task_prerun.connect(weak=False)
    def _task_started(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
        if task_id:
            tokens[task_id] = start(task_id=task_id, task=getattr(task, "name", None))

    @signals.task_postrun.connect(weak=False)
    def _task_done(task_id: str | None = None, **kwargs: Any) -> None:
        token = tokens.pop(task_id or "", None)
        if token is not None:
            try:
                finish(token)
            except ValueError:  # reset from another context: the next task starts afresh
                _context.set(None)
