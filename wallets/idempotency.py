"""The `Idempotency-Key` header for money-moving POSTs (CONTRACT.md "Conventions").

Decorate a DRF view's handler with `@idempotent`:

    class RechargeView(APIView):
        @idempotent
        def post(self, request): ...

* No header: the request runs as usual.
* A key of 1-255 characters is scoped to the signed-in user and the request's method and path.
* Same key, same body (SHA-256 of the canonical JSON): the first response (status and body)
  again, with the header `Idempotent-Replayed: true`; nothing runs twice.
* Same key, another body: 409 `idempotency_key_reused`.
* Concurrent duplicates: the key row is inserted first, in its own committed transaction, so
  exactly one request runs; a twin arriving while it runs gets 409 `conflict` ("request in
  progress") at once rather than waiting. A claim older than `STALE_CLAIM` (a crashed process)
  can be taken over.
* Answers below 500 are stored (errors too: a refused debit stays refused for its key); a 5xx or
  an unexpected exception deletes the claim so the client may retry.
* A Stripe client secret in an answer is not stored with it (it lets whoever holds it pay the
  PaymentIntent; Stripe asks that it be kept from anyone but the customer, and operators read
  these records): a replay asks Stripe for it again (null if Stripe does not answer).
* Records are kept for `RETENTION` (24 h) at least; `purge_idempotency_records()` (the
  `purge_idempotency_keys` command, or a beat task) deletes older ones.
"""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from config.errors import Conflict, Invalid
from wallets.errors import IdempotencyKeyReused
from wallets.models import IdempotencyRecord, Payment
from wallets.payments import fetch_client_secret

HEADER = "Idempotency-Key"
RETENTION = timedelta(hours=24)
STALE_CLAIM = timedelta(minutes=2)
SECRET = "client_secret"  # (wallets.payments.checkout_fields: Stripe's, beside a payment_id)


def request_hash(data) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _claim(*, user, scope: str, key: str, digest: str) -> IdempotencyRecord | None:
    """Inserts the key row (committed at once). Returns None if we own it now, else the record
    that exists."""
    now = timezone.now()
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(
                user=user, scope=scope, key=key, request_hash=digest, created_at=now, locked_at=now
            )
        return None
    except IntegrityError:
        pass
    record = IdempotencyRecord.objects.get(user=user, scope=scope, key=key)
    if record.request_hash != digest or record.status_code is not None:
        return record
    # An abandoned claim (its process died) is taken over with a compare-and-set.
    if record.locked_at < now - STALE_CLAIM:
        taken = IdempotencyRecord.objects.filter(
            id=record.id, status_code__isnull=True, locked_at=record.locked_at
        ).update(locked_at=now)
        if taken == 1:
            return None
    return record


def idempotent(handler):
    """Decorates a DRF view handler (`post`) with the Idempotency-Key contract."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not 1 <= len(key) <= 255:
            raise Invalid("The Idempotency-Key header must be 1-255 characters.")
        scope = f"{request.method} {request.path.rstrip('/')}"[:255]
        digest = request_hash(request.data)
        user = request.user
        record = _claim(user=user, scope=scope, key=key, digest=digest)
        if record is not None:
            if record.request_hash != digest:
                raise IdempotencyKeyReused()
            if record.status_code is None:
                raise Conflict("A request with this Idempotency-Key is in progress.")
            return Response(
                _with_secrets(record.response_body, user),
                status=record.status_code,
                headers={"Idempotent-Replayed": "true"},
            )
        try:
            try:
                response = handler(view, request, *args, **kwargs)
            except APIException as exc:
                response = view.handle_exception(exc)
        except BaseException:
            IdempotencyRecord.objects.filter(user=user, scope=scope, key=key).delete()
            raise
        if response.status_code >= 500:
            IdempotencyRecord.objects.filter(user=user, scope=scope, key=key).delete()
            return response
        body = _without_secrets(json.loads(json.dumps(response.data, default=str)))
        IdempotencyRecord.objects.filter(user=user, scope=scope, key=key).update(
            status_code=response.status_code, response_body=body
        )
        return response

    return wrapper


def _without_secrets(value):
    """A JSON answer as its record keeps it: every client secret null."""
    if isinstance(value, dict):
        return {k: None if k == SECRET else _without_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secrets(item) for item in value]
    return value


def _with_secrets(value, user):
    """A stored answer replayed: each payment's client secret asked of the gateway again (a
    network call), for a payment of `user`'s only."""
    if isinstance(value, list):
        return [_with_secrets(item, user) for item in value]
    if not isinstance(value, dict):
        return value
    value = {k: _with_secrets(v, user) for k, v in value.items()}
    if SECRET in value and value[SECRET] is None and value.get("payment_id"):
        payment = Payment.objects.filter(id=value["payment_id"], user=user).first()
        if payment is not None:
            value[SECRET] = fetch_client_secret(payment)
    return value


def purge_idempotency_records(*, older_than: timedelta = RETENTION) -> int:
    """Deletes records older than `older_than` (never less than 24 h). Returns how many."""
    older_than = max(older_than, RETENTION)
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - older_than
    ).delete()
    return deleted
