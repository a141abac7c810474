"""`GET /metrics`: the token rules, every name the contract lists, and figures that move when
the platform works (in this process; test_processes.py has them come from other processes)."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from accounts.tests.factories import ClientFactory, sign_in
from config import metrics
from config.tests.test_logs import _asgi_get
from consultations import services
from consultations.tests.factories import ActiveConsultationFactory
from wallets.models import RefundStatus
from wallets.tests.factories import funded_client

TOKEN = "metrics-secret-token"


@pytest.fixture
def scrape(settings):
    from django.test import Client

    settings.METRICS_TOKEN = TOKEN
    prometheus = Client()

    def get() -> dict:
        response = prometheus.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=0.0.4")
        return samples(response.content.decode())

    return get


def samples(text: str) -> dict:
    """{(name, frozenset(labels)): value} of a Prometheus text exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_metrics_are_off_until_a_token_is_set(db, api, settings):
    settings.METRICS_TOKEN = None
    assert api.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"]
)
def test_a_missing_or_wrong_token_is_refused(db, api, settings, header):
    settings.METRICS_TOKEN = TOKEN
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = api.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"consult_" not in response.content


def test_every_name_the_contract_lists_is_there_with_its_labels(
    db, scrape, django_capture_on_commit_callbacks
):
    ActiveConsultationFactory(channel="chat", client=funded_client())
    with django_capture_on_commit_callbacks(execute=True):
        services.bill_due_consultations(now=timezone.now() + timedelta(seconds=30))
    assert _asgi_get("/api/v1/auth/me", [(b"host", b"testserver")])["status"] == 401
    found = scrape()
    names = {name for name, _ in found}
    for name in [
        "consult_billing_tick_duration_seconds_bucket",
        "consult_billing_tick_duration_seconds_count",
        "consult_billing_lag_seconds",
        "consult_ws_connections",
        "consult_dependency_up",
        "consult_reconcile_ledger_clean",
        "consult_billing_set_aside_total",
    ]:
        assert name in names, name
    for channel in ("chat", "voice", "video"):
        assert ("consult_active_consultations", frozenset({("channel", channel)})) in found
    assert value(found, "consult_ledger_postings_total", kind="consultation_charge") >= 1
    assert value(found, "consult_http_requests_total", method="GET", status="401") >= 1


def test_the_tick_is_timed_and_counted(db, scrape):
    before = scrape()
    ActiveConsultationFactory()
    services.bill_due_consultations(now=timezone.now() + timedelta(seconds=30))
    after = scrape()
    count = "consult_billing_tick_duration_seconds_count"
    assert value(after, count) == value(before, count) + 1
    assert value(after, "consult_billing_ticks_total", result="ok") == (
        value(before, "consult_billing_ticks_total", result="ok") + 1
    )
    assert value(after, "consult_billing_consultations_total") == (
        value(before, "consult_billing_consultations_total") + 1
    )
    assert value(after, "consult_billing_last_tick_timestamp_seconds") > 0


def test_active_consultations_and_the_billing_lag_come_from_the_database(db, scrape):
    now = timezone.now()
    ActiveConsultationFactory(channel="chat", last_billed_at=now - timedelta(seconds=45))
    ActiveConsultationFactory(channel="chat", last_billed_at=now - timedelta(seconds=5))
    voice = ActiveConsultationFactory(channel="voice")
    voice.consultant.rate_voice = 3000
    found = scrape()
    assert value(found, "consult_active_consultations", channel="chat") == 2
    assert value(found, "consult_active_consultations", channel="voice") == 1
    assert value(found, "consult_active_consultations", channel="video") == 0
    assert 45 <= value(found, "consult_billing_lag_seconds") < 60
    assert value(found, "consult_dependency_up", dependency="database") == 1
    assert value(found, "consult_dependency_up", dependency="redis") == 1


def test_the_lag_is_zero_when_nothing_is_active(db, scrape):
    assert value(scrape(), "consult_billing_lag_seconds") == 0


def test_a_posting_counts_when_it_commits_and_not_when_it_rolls_back(
    db, scrape, django_capture_on_commit_callbacks
):
    before = value(scrape(), "consult_ledger_postings_total", kind="adjustment")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        metrics.ledger_postings(["adjustment", "adjustment"])
        with transaction.atomic():
            metrics.ledger_postings(["adjustment"])
            transaction.set_rollback(True)
    assert value(scrape(), "consult_ledger_postings_total", kind="adjustment") == before + 2


def test_error_answers_are_counted_by_code(db, api, scrape):
    before = value(scrape(), "consult_errors_total", code="not_authenticated", transport="http")
    assert api.get("/api/v1/auth/me").status_code == 401
    after = value(scrape(), "consult_errors_total", code="not_authenticated", transport="http")
    assert after == before + 1


def test_payments_and_refunds_are_counted_by_status(db, scrape, django_capture_on_commit_callbacks):
    from wallets.models import PaymentStatus

    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        metrics.payment_status(PaymentStatus.CAPTURED)
        metrics.payment_status(PaymentStatus.FAILED, count=0)  # a compare-and-set that moved 0
        metrics.refund_status(RefundStatus.FAILED)
    after = scrape()
    for name, status, added in [
        ("consult_payments_total", "captured", 1),
        ("consult_payments_total", "failed", 0),
        ("consult_refunds_total", "failed", 1),
    ]:
        assert value(after, name, status=status) == value(before, name, status=status) + added


def test_a_recharge_counts_created_then_captured(
    db, api, scrape, django_capture_on_commit_callbacks
):
    from wallets.gateway import payment_signature

    before = scrape()
    sign_in(api, ClientFactory())
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post("/api/v1/wallet/recharge", {"amount": 50_000}, format="json").json()
    order_id = created["gateway_order_id"]
    with django_capture_on_commit_callbacks(execute=True):
        verified = api.post(
            "/api/v1/wallet/recharge/verify",
            {
                "razorpay_order_id": order_id,
                "razorpay_payment_id": "pay_metrics_1",
                "razorpay_signature": payment_signature(order_id, "pay_metrics_1"),
            },
            format="json",
        )
    assert verified.status_code == 200, verified.content
    after = scrape()
    for status in ("created", "captured"):
        assert value(after, "consult_payments_total", status=status) == (
            value(before, "consult_payments_total", status=status) + 1
        )
    assert value(after, "consult_ledger_postings_total", kind="recharge") == (
        value(before, "consult_ledger_postings_total", kind="recharge") + 1
    )


def test_reconcile_ledger_reports_its_time_and_verdict(db, scrape):
    from django.core.management import call_command

    call_command("reconcile_ledger")
    found = scrape()
    assert value(found, "consult_reconcile_ledger_clean") == 1
    assert value(found, "consult_reconcile_ledger_violations") == 0
    assert value(found, "consult_reconcile_ledger_duration_seconds") > 0
    assert value(found, "consult_reconcile_ledger_last_run_timestamp_seconds") > 0


@pytest.mark.ledger_corrupted
def test_the_nightly_reconcile_says_when_the_books_are_not_clean(db, scrape):
    from wallets.models import Account
    from wallets.tasks import reconcile_ledger

    user = ClientFactory()
    from wallets.services import wallet_for

    Account.objects.filter(id=wallet_for(user=user).id).update(balance=123)  # no entry behind it
    assert reconcile_ledger() == {"clean": False, "violations": reconcile_ledger()["violations"]}
    found = scrape()
    assert value(found, "consult_reconcile_ledger_clean") == 0
    assert value(found, "consult_reconcile_ledger_violations") >= 1


def test_the_nightly_reconcile_is_on_the_beat_schedule():
    from config.celery import app

    jobs = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "wallets.tasks.reconcile_ledger" in jobs


def test_a_metric_that_cannot_be_recorded_never_fails_the_work(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(metrics.ERRORS, "labels", broken)
    metrics.error("invalid")  # no exception
