"""Earning records and the consultant's earnings API."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.db.models import Sum

from consultations.models import Status
from consultations.services import cancel_consultation
from consultations.signals import consultation_ended
from consultations.tests.factories import ConsultationFactory
from earnings.models import Earning
from earnings.services import record_earning
from earnings.tests.conftest import as_user
from earnings.tests.factories import ended_consultation
from wallets.models import EntryKind, LedgerEntry

pytestmark = pytest.mark.django_db

FIELDS = {"consultation_id", "gross", "commission", "net", "created_at"}


def ledger_earnings(consultant) -> int:
    """What the consultant's wallet received for consultations, net of refund reversals."""
    return (
        LedgerEntry.objects.filter(
            account__user=consultant.user,
            kind__in=[EntryKind.CONSULTATION_EARNING, EntryKind.REFUND],
            transaction__reference_type="consultation",
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )


def test_an_ended_consultation_writes_its_earning_in_the_same_transaction(consultant):
    consultation = ended_consultation(consultant=consultant, rate=600, seconds=95)

    earning = Earning.objects.get(consultation=consultation)
    assert consultation.total_amount == 950
    assert (earning.gross, earning.commission, earning.net) == (950, 190, 760)
    assert earning.seconds == 95
    assert earning.created_at == consultation.ended_at
    assert ledger_earnings(consultant) == 760


def test_the_commission_is_rounded_down_and_the_consultant_keeps_the_fraction(consultant):
    consultation = ended_consultation(consultant=consultant, rate=7, seconds=61)  # 7 paise

    earning = Earning.objects.get(consultation=consultation)
    assert (earning.gross, earning.commission, earning.net) == (7, 1, 6)


def test_a_consultation_that_ended_at_once_still_has_its_record(consultant):
    consultation = ended_consultation(consultant=consultant, seconds=0)

    earning = Earning.objects.get(consultation=consultation)
    assert (earning.gross, earning.net, earning.seconds) == (0, 0, 0)


def test_a_cancelled_request_earns_nothing(consultant):
    request = ConsultationFactory(consultant=consultant)
    cancel_consultation(consultation_id=request.id, actor=request.client)

    assert not Earning.objects.exists()


def test_the_signal_sent_twice_writes_one_record(consultant):
    consultation = ended_consultation(consultant=consultant)
    consultation_ended.send(sender=type(consultation), consultation=consultation)

    assert record_earning(consultation=consultation) == Earning.objects.get()


def test_record_earning_refuses_an_open_consultation(consultant):
    with pytest.raises(ValueError):
        record_earning(consultation=ConsultationFactory(consultant=consultant))


# --- GET /earnings ----------------------------------------------------------------------------


def test_a_consultant_lists_their_earnings_newest_first(api, consultant, django_assert_num_queries):
    older = ended_consultation(consultant=consultant, at=datetime(2026, 3, 1, tzinfo=UTC))
    newer = ended_consultation(consultant=consultant, at=datetime(2026, 3, 2, tzinfo=UTC))
    ended_consultation()  # another consultant's

    as_user(api, consultant.user)
    with django_assert_num_queries(1):
        response = api.get("/api/v1/earnings")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next", "previous"}
    assert [row["consultation_id"] for row in body["results"]] == [str(newer.id), str(older.id)]
    assert set(body["results"][0]) == FIELDS
    assert body["results"][0]["created_at"] == "2026-03-02T00:00:00Z"
    assert body["results"][0]["gross"] == 1000


def test_the_list_pages_with_a_cursor(api, consultant):
    for day in range(1, 4):
        ended_consultation(consultant=consultant, at=datetime(2026, 3, day, tzinfo=UTC))

    first = as_user(api, consultant.user).get("/api/v1/earnings?page_size=2").json()
    second = api.get(first["next"]).json()

    assert len(first["results"]) == 2 and len(second["results"]) == 1
    assert second["next"] is None


@pytest.mark.parametrize("path", ["/api/v1/earnings", "/api/v1/earnings/summary"])
def test_only_consultants_see_earnings(api, client_user, admin_user, path):
    assert api.get(path).status_code == 401
    for user in (client_user, admin_user):
        response = as_user(api, user).get(path)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"


# --- GET /earnings/summary --------------------------------------------------------------------


def test_the_summary_counts_today_by_the_day_in_the_time_zone(api, consultant, settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    # 18:29 UTC is 23:59 in Kolkata on the 9th; 18:31 UTC is 00:01 on the 10th.
    ended_consultation(
        consultant=consultant, seconds=60, at=datetime(2026, 3, 9, 18, 29, tzinfo=UTC)
    )
    ended_consultation(
        consultant=consultant, seconds=30, at=datetime(2026, 3, 9, 18, 31, tzinfo=UTC)
    )
    ended_consultation(
        consultant=consultant, seconds=6, at=datetime(2026, 3, 10, 18, 0, tzinfo=UTC)
    )

    with time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=False):
        response = as_user(api, consultant.user).get("/api/v1/earnings/summary")

    assert response.status_code == 200
    assert response.json() == {
        "total_earnings": 480 + 240 + 48,
        "today_earnings": 240 + 48,
        "total_sessions": 3,
        "total_seconds": 96,
        "pending_payout": 0,
        "currency": "INR",
    }


def test_the_summary_of_a_new_consultant_is_all_zeros(api, consultant):
    body = as_user(api, consultant.user).get("/api/v1/earnings/summary").json()

    assert body["total_earnings"] == body["total_sessions"] == body["pending_payout"] == 0


def test_the_summary_agrees_with_the_ledger(api, consultant):
    for seconds in (1, 7, 59, 61, 3601):
        ended_consultation(consultant=consultant, rate=997, seconds=seconds)

    body = as_user(api, consultant.user).get("/api/v1/earnings/summary").json()

    assert body["total_earnings"] == ledger_earnings(consultant)
    assert body["total_sessions"] == 5
    assert Earning.objects.filter(consultation__status=Status.ENDED).count() == 5
