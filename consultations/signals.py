"""What other apps can listen to (earnings records an earning; bookings completes a booking).

`consultation_ended` is sent inside the transaction that ends a consultation (status `ended` or
`force_ended`, either kind), once per consultation, with `consultation=` the ended row (its
final `status`, `end_reason`, `ended_at`, billing totals, `kind` and `booking_id`). A receiver's
writes commit with the end, or roll back alone:

* each receiver runs in a savepoint of its own; one that raises is rolled back, logged with the
  consultation's id and counted (`receiver_failures`), and the end (and the rest of a billing
  batch) goes on. A receiver can therefore never stop billing; it must be idempotent and have
  its own way to catch up (earnings: `record_missing_earnings`).
* receivers connect like Django's: `consultation_ended.connect(fn, dispatch_uid="app.fn")`, or
  with the `@receiver(consultation_ended, dispatch_uid=...)` decorator; `fn(sender, consultation,
  **kwargs)`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

# (signal name, receiver uid) -> failures in this process: the hook a metric can read.
receiver_failures: Counter[tuple[str, str]] = Counter()


class IsolatedSignal:
    """A signal whose receivers each run in their own savepoint and cannot abort the sender.

    Same `connect` / `disconnect` / `send` shape as `django.dispatch.Signal` (which the
    `receiver` decorator calls), but `send` catches what a receiver raises: the receiver's own
    writes are rolled back (its savepoint), the error is logged and counted, the others run.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._receivers: dict[str, Callable[..., Any]] = {}

    def connect(
        self, receiver: Callable[..., Any], sender: Any = None, weak: bool = True, dispatch_uid=None
    ) -> None:
        uid = dispatch_uid or f"{receiver.__module__}.{receiver.__qualname__}"
        self._receivers[uid] = receiver

    def disconnect(self, receiver: Callable[..., Any] | None = None, dispatch_uid=None) -> bool:
        if dispatch_uid is None and receiver is not None:
            dispatch_uid = next((u for u, r in self._receivers.items() if r is receiver), None)
        return self._receivers.pop(dispatch_uid, None) is not None

    def send(self, sender: Any, **kwargs: Any) -> list[tuple[str, Exception]]:
        """Calls every receiver in its own savepoint; returns the `(uid, error)` of those that
        raised (already rolled back, logged and counted)."""
        failed: list[tuple[str, Exception]] = []
        for uid, receiver in list(self._receivers.items()):
            try:
                with transaction.atomic():
                    receiver(sender=sender, signal=self, **kwargs)
            except Exception as exc:  # noqa: BLE001 - a receiver must not stop the sender
                receiver_failures[(self.name, uid)] += 1
                subject = kwargs.get("consultation")
                logger.exception(
                    "%s receiver %s failed for %s; rolled back alone",
                    self.name,
                    uid,
                    getattr(subject, "id", subject),
                )
                failed.append((uid, exc))
        return failed


consultation_ended = IsolatedSignal("consultation_ended")
