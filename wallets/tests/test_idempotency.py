"""The Idempotency-Key contract on money-moving POSTs."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import ClientFactory
from wallets.idempotency import purge_idempotency_records
from wallets.models import IdempotencyRecord, Payment


def recharge(api, amount, key):
    return api.post(
        "/api/v1/wallet/recharge", {"amount": amount}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


@pytest.mark.django_db
def test_the_same_key_and_body_answer_the_first_response_again(as_client):
    first = recharge(as_client, 5000, "key-1")
    again = recharge(as_client, 5000, "key-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_refused(as_client):
    recharge(as_client, 5000, "key-1")
    response = recharge(as_client, 6000, "key-1")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_scoped_per_user(api):
    for user in (ClientFactory(), ClientFactory()):
        api.force_authenticate(user)
        assert recharge(api, 5000, "shared").status_code == 201
    assert Payment.objects.count() == 2


@pytest.mark.django_db
def test_without_a_key_every_request_runs(as_client):
    for _ in range(2):
        assert (
            as_client.post("/api/v1/wallet/recharge", {"amount": 5000}, format="json").status_code
            == 201
        )
    assert Payment.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "k" * 256])
def test_a_key_must_be_1_to_255_characters(as_client, key):
    response = recharge(as_client, 5000, key)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert recharge(as_client, 5000, "k" * 255).status_code == 201


@pytest.mark.django_db
def test_an_error_answer_is_replayed_too(as_client):
    first = recharge(as_client, 1, "bad")
    assert first.status_code == 400
    assert recharge(as_client, 1, "bad").json() == first.json()


@pytest.mark.django_db
def test_a_request_in_progress_answers_conflict(as_client, client_user):
    now = timezone.now()
    IdempotencyRecord.objects.create(
        user=client_user,
        scope="POST /api/v1/wallet/recharge",
        key="busy",
        request_hash=__import__("wallets.idempotency", fromlist=["x"]).request_hash(
            {"amount": 5000}
        ),
        created_at=now,
        locked_at=now,
    )
    response = recharge(as_client, 5000, "busy")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    # A claim abandoned by a dead process is taken over after a while.
    IdempotencyRecord.objects.update(locked_at=now - timedelta(minutes=10))
    assert recharge(as_client, 5000, "busy").status_code == 201


@pytest.mark.django_db
def test_records_are_kept_24_hours_then_purged(as_client):
    recharge(as_client, 5000, "old")
    recharge(as_client, 5000, "new")
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    assert purge_idempotency_records(older_than=timedelta(hours=1)) == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_run_once():
    user = ClientFactory()
    start = threading.Barrier(8)

    def attempt(_):
        try:
            api = APIClient()
            api.force_authenticate(user)
            start.wait(timeout=10)
            response = recharge(api, 7000, "race")
            return response.status_code, response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(8)))
    assert Payment.objects.count() == 1
    created = [body for status, body in results if status == 201]
    assert created and all(body == created[0] for body in created)
    assert all(
        status == 201 or (status == 409 and body["code"] == "conflict") for status, body in results
    )
