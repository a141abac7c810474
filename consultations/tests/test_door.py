"""The door: `open_consultation` / `close_consultations`, the two kinds, and what other apps
(bookings, earnings) hook into."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction

from accounts.tests.factories import ClientFactory
from config.errors import ApiError
from consultants.tests.factories import OnlineConsultantFactory
from consultations import services
from consultations.models import Consultation, ConsultationEvent, Kind
from consultations.refunds import refund_consultation
from consultations.serializers import ConsultationSerializer
from consultations.signals import consultation_ended
from earnings.models import Earning
from wallets.models import LedgerTransaction
from wallets.services import wallet_for
from wallets.tests.factories import fund

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def open_booked(client, consultant, *, minutes=30, booking_id=None, channel="video"):
    with transaction.atomic():
        return services.open_consultation(
            client=client,
            consultant=consultant,
            channel=channel,
            kind=Kind.BOOKED,
            booking_id=booking_id or uuid.uuid4(),
            ends_at=START + timedelta(minutes=minutes),
            actor=client,
        )


@pytest.fixture
def pair():
    client = ClientFactory()
    fund(client, 100_000)
    return client, OnlineConsultantFactory(rate_chat=600)


def test_a_booked_consultation_opens_active_prepaid_and_ending_on_schedule(
    pair, listen, django_capture_on_commit_callbacks
):
    client, consultant = pair
    listener = listen(client, consultant.user)
    with time_machine.travel(START, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            row = open_booked(client, consultant)
    row.refresh_from_db()
    assert (row.status, row.kind, row.rate_per_minute) == ("active", "booked", 0)
    assert row.started_at == START and row.ends_at == START + timedelta(minutes=30)
    assert row.booking_id is not None
    consultant.refresh_from_db()
    assert consultant.is_busy
    event = ConsultationEvent.objects.get(consultation=row)
    assert (event.from_status, event.to_status, event.reason) == ("", "active", "booking_started")
    body = ConsultationSerializer(row).data
    assert (body["kind"], body["booking_id"]) == ("booked", str(row.booking_id))
    frames = [f for f in listener.frames() if f["type"] == "consultation_updated"]
    assert len(frames) == 2  # one for each participant
    assert frames[0]["consultation"]["kind"] == "booked"


def test_opening_a_bookings_consultation_twice_returns_the_first(pair):
    client, consultant = pair
    booking_id = uuid.uuid4()
    with time_machine.travel(START, tick=False):
        first = open_booked(client, consultant, booking_id=booking_id)
        again = open_booked(client, consultant, booking_id=booking_id)
    assert again.id == first.id
    assert Consultation.objects.filter(booking_id=booking_id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_door_runs_inside_the_callers_transaction(pair):
    client, consultant = pair
    with pytest.raises(RuntimeError):
        services.open_consultation(client=client, consultant=consultant, channel="chat")


def test_the_door_refuses_a_busy_consultant_or_client(pair):
    client, consultant = pair
    with time_machine.travel(START, tick=False):
        services.start_consultation(client=client, consultant_id=consultant.id, channel="chat")
        with pytest.raises(ApiError) as busy:
            open_booked(ClientFactory(), consultant)
        other = OnlineConsultantFactory()
        with pytest.raises(ApiError) as client_busy:
            open_booked(client, other)
    assert busy.value.code == "consultant_busy"
    assert client_busy.value.code == "client_busy"


def test_the_tick_never_bills_a_booked_consultation_and_ends_it_at_its_end(pair):
    client, consultant = pair
    ended = []

    def hear(sender, consultation, **kwargs):
        ended.append((consultation.id, consultation.status, consultation.end_reason))

    consultation_ended.connect(hear, dispatch_uid="test.hear")
    try:
        with time_machine.travel(START, tick=False) as traveller:
            row = open_booked(client, consultant, minutes=1)
            for _ in range(5):
                traveller.shift(10)
                services.bill_due_consultations()
            assert Consultation.objects.get(id=row.id).status == "active"
            traveller.shift(15)  # 65 s: past its end
            report = services.bill_due_consultations()
    finally:
        consultation_ended.disconnect(dispatch_uid="test.hear")
    row.refresh_from_db()
    assert (row.status, row.end_reason) == ("ended", "booking_over")
    assert (row.billed_seconds, row.total_amount) == (0, 0)
    assert report.ended == 1
    assert ended == [(row.id, "ended", "booking_over")]
    assert not LedgerTransaction.objects.filter(reference_id=str(row.id)).exists()
    assert wallet_for(user=client).balance == 100_000
    assert not Earning.objects.filter(consultation=row).exists()  # the booking pays it
    consultant.refresh_from_db()
    assert not consultant.is_busy and consultant.total_sessions == 1


def test_end_due_consultations_ends_a_booked_one_the_second_it_is_due(pair):
    client, consultant = pair
    with time_machine.travel(START, tick=False) as traveller:
        row = open_booked(client, consultant, minutes=1)
        traveller.shift(59)
        assert services.end_due_consultations() == 0
        traveller.shift(1)
        assert services.end_due_consultations() == 1
    row.refresh_from_db()
    assert (row.status, row.end_reason, row.ended_at) == (
        "ended",
        "booking_over",
        START + timedelta(minutes=1),
    )


def test_a_participant_may_end_a_booked_consultation_early_and_nothing_is_charged(pair):
    client, consultant = pair
    with time_machine.travel(START, tick=False) as traveller:
        row = open_booked(client, consultant)
        traveller.shift(300)
        result = services.end_consultation(consultation_id=row.id, actor=consultant.user)
    assert (result.consultation.status, result.consultation.end_reason) == (
        "ended",
        "consultant_ended",
    )
    assert result.consultation.total_amount == 0
    assert result.remaining_balance == 100_000


def test_a_booked_consultation_is_refunded_through_its_booking_not_here(pair, admin_user):
    client, consultant = pair
    with time_machine.travel(START, tick=False):
        row = open_booked(client, consultant)
        services.end_consultation(consultation_id=row.id, actor=client)
    with pytest.raises(ApiError) as refused:
        refund_consultation(consultation_id=row.id, amount=1, actor=admin_user)
    assert refused.value.code == "invalid_state"


@pytest.mark.parametrize(
    "changes",
    [
        {"booking_id": None},  # booked without its booking
        {"rate_per_minute": 600},  # booked billed by the second
        {"ends_at": None},  # booked without its end
        {"kind": "instant"},  # instant with a booking
        {"kind": "prepaid"},  # unknown kind
        {"commission_percent": 101},
        {"end_reason": "bored"},
    ],
)
def test_the_database_keeps_the_kinds_apart(pair, changes):
    client, consultant = pair
    row = open_booked(client, consultant)
    with pytest.raises(IntegrityError), transaction.atomic():
        Consultation.objects.filter(id=row.id).update(**changes)


def test_an_instant_consultation_has_a_rate_and_no_booking(pair):
    client, consultant = pair
    row = services.start_consultation(client=client, consultant_id=consultant.id, channel="chat")
    assert (row.kind, row.booking_id, row.ends_at) == ("instant", None, None)
    with pytest.raises(IntegrityError), transaction.atomic():
        Consultation.objects.filter(id=row.id).update(rate_per_minute=0)


def test_another_app_can_hold_a_consultant_for_something_else(pair):
    client, consultant = pair
    held = {consultant.id}
    services.add_busy_check(lambda profile, now: profile.id in held, uid="test.held")
    try:
        with pytest.raises(ApiError) as refused:
            services.start_consultation(client=client, consultant_id=consultant.id, channel="chat")
        held.clear()
        services.start_consultation(client=client, consultant_id=consultant.id, channel="chat")
    finally:
        services._busy_checks.pop("test.held")
    assert refused.value.code == "consultant_busy"


def test_a_failing_receiver_cannot_stop_an_end_and_is_rolled_back_alone(pair, caplog):
    client, consultant = pair

    def broken(sender, consultation, **kwargs):
        Earning.objects.filter(consultation=consultation).update(seconds=999)
        raise RuntimeError("a bug in another app")

    consultation_ended.connect(broken, dispatch_uid="test.broken")
    try:
        with time_machine.travel(START, tick=False) as traveller:
            row = services.start_consultation(
                client=client, consultant_id=consultant.id, channel="chat"
            )
            services.accept_consultation(consultation_id=row.id, actor=consultant.user)
            traveller.shift(30)
            result = services.end_consultation(consultation_id=row.id, actor=client)
    finally:
        consultation_ended.disconnect(dispatch_uid="test.broken")
    assert result.consultation.status == "ended"
    earning = Earning.objects.get(consultation=row)  # the earnings receiver still ran
    assert earning.seconds == 30  # the broken receiver's write was rolled back
    assert str(row.id) in caplog.text and "test.broken" in caplog.text


def test_the_commission_is_fixed_when_the_consultation_is_created(pair, settings):
    client, consultant = pair
    settings.PLATFORM_COMMISSION_PERCENT = 20
    with time_machine.travel(START, tick=False) as traveller:
        row = services.start_consultation(
            client=client, consultant_id=consultant.id, channel="chat"
        )
        services.accept_consultation(consultation_id=row.id, actor=consultant.user)
        settings.PLATFORM_COMMISSION_PERCENT = 50  # a deploy with another value
        traveller.shift(10)
        services.bill_due_consultations()
        traveller.shift(10)
        services.end_consultation(consultation_id=row.id, actor=client)
    row.refresh_from_db()
    assert row.commission_percent == 20
    assert (row.total_amount, row.commission_amount, row.consultant_amount) == (200, 40, 160)
