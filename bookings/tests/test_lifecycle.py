"""The lifecycle runs itself: completion at the end, no-shows, the consultant busy, reminders."""

from datetime import timedelta

import pytest

from accounts.tests.factories import sign_in
from bookings import services
from bookings.models import Booking, BookingEmail, Notice, Status
from bookings.tests.conftest import PRICE, SLOT, book_body
from consultations.models import Consultation, EndReason
from consultations.services import end_consultation, end_due_consultations
from wallets.models import AccountKind, EntryKind, LedgerEntry
from wallets.services import system_account, wallet_for

pytestmark = pytest.mark.django_db

NET = PRICE - PRICE * 20 // 100


@pytest.fixture
def booking(as_client, session_type):
    data = as_client.post("/api/v1/bookings", book_body(session_type), format="json").json()
    return Booking.objects.get(id=data["id"])


def _join_both(booking, clock, at=SLOT):
    clock.move_to(at)
    services.join_booking(booking_id=booking.id, actor=booking.client)
    services.join_booking(booking_id=booking.id, actor=booking.consultant.user)
    booking.refresh_from_db()


def test_it_completes_at_its_end_and_pays_the_consultant(booking, clock, consultant):
    _join_both(booking, clock)
    assert booking.status == Status.IN_PROGRESS
    clock.move_to(booking.end_at)
    assert end_due_consultations() == 1
    booking.refresh_from_db()
    assert booking.status == Status.COMPLETED and booking.settled_at is not None
    consultation = Consultation.objects.get(id=booking.consultation_id)
    assert consultation.status == "ended" and consultation.end_reason == EndReason.BOOKING_OVER
    assert wallet_for(user=consultant.user).balance == NET
    earning = LedgerEntry.objects.get(account__user=consultant.user)
    assert earning.kind == EntryKind.BOOKING_EARNING
    assert earning.transaction.reference_type == "booking"
    assert system_account(AccountKind.BOOKINGS_HELD).balance == 0
    assert system_account(AccountKind.PLATFORM_REVENUE).balance == PRICE * 20 // 100
    # Settled once: running everything again moves nothing.
    services.run_lifecycle()
    assert wallet_for(user=consultant.user).balance == NET


def test_a_bookings_earning_shows_in_the_consultants_earnings(api, booking, clock, consultant):
    _join_both(booking, clock)
    clock.move_to(booking.end_at)
    end_due_consultations()
    sign_in(api, consultant.user)
    summary = api.get("/api/v1/earnings/summary").json()
    assert summary["total_earnings"] == NET and summary["total_sessions"] == 1
    assert summary["total_seconds"] == 45 * 60
    rows = api.get("/api/v1/earnings").json()["results"]
    assert rows[0]["consultation_id"] == str(booking.consultation_id)
    assert rows[0]["gross"] == PRICE and rows[0]["net"] == NET


def test_a_participant_ending_early_completes_it(booking, clock, consultant):
    _join_both(booking, clock)
    clock.move_to(SLOT + timedelta(minutes=20))
    end_consultation(consultation_id=booking.consultation_id, actor=booking.client)
    booking.refresh_from_db()
    assert booking.status == Status.COMPLETED
    assert wallet_for(user=consultant.user).balance == NET


def test_the_lifecycle_completes_a_booking_whose_consultation_outlived_its_end(
    booking, clock, consultant
):
    _join_both(booking, clock)
    clock.move_to(booking.end_at + timedelta(minutes=1))
    assert services.run_lifecycle().completed == 1
    booking.refresh_from_db()
    assert booking.status == Status.COMPLETED
    assert Consultation.objects.get(id=booking.consultation_id).status == "ended"


def test_a_consultant_who_never_joins_is_a_no_show_and_the_client_gets_everything(
    booking, clock, client_user
):
    clock.move_to(SLOT)
    services.join_booking(booking_id=booking.id, actor=client_user)
    clock.move_to(SLOT + timedelta(minutes=9, seconds=59))
    assert services.run_lifecycle().no_shows == 0
    clock.move_to(SLOT + timedelta(minutes=10))
    assert services.run_lifecycle().no_shows == 1
    booking.refresh_from_db()
    assert booking.status == Status.NO_SHOW and booking.no_show_by == "consultant"
    assert booking.refund_amount == PRICE
    assert wallet_for(user=client_user).balance == 500_000
    consultation = Consultation.objects.get(id=booking.consultation_id)
    assert consultation.status == "ended"
    assert BookingEmail.objects.filter(booking=booking, notice=Notice.NO_SHOW).count() == 1


def test_a_client_who_never_joins_is_a_no_show_and_the_consultant_is_paid(
    booking, clock, client_user, consultant
):
    clock.move_to(SLOT)
    services.join_booking(booking_id=booking.id, actor=consultant.user)
    clock.move_to(SLOT + timedelta(minutes=10))
    services.run_lifecycle()
    booking.refresh_from_db()
    assert booking.status == Status.NO_SHOW and booking.no_show_by == "client"
    assert booking.refund_amount == 0
    assert wallet_for(user=consultant.user).balance == NET
    assert wallet_for(user=client_user).balance == 500_000 - PRICE


def test_nobody_joining_is_the_consultants_no_show(booking, clock, client_user):
    clock.move_to(SLOT + timedelta(minutes=10))
    services.run_lifecycle()
    booking.refresh_from_db()
    assert booking.no_show_by == "consultant"
    assert wallet_for(user=client_user).balance == 500_000


def test_the_consultant_is_busy_from_the_rooms_opening(api, booking, clock, consultant):
    from accounts.tests.factories import ClientFactory
    from wallets.tests.factories import fund

    other = ClientFactory()
    fund(other, 500_000)

    def ask():
        sign_in(api, other)
        return api.post(
            "/api/v1/consultations",
            {"consultant_id": str(consultant.id), "channel": "chat"},
            format="json",
        )

    clock.move_to(SLOT - timedelta(minutes=5, seconds=1))
    first = ask()
    assert first.status_code == 201, first.content
    from consultations.services import cancel_consultation

    cancel_consultation(consultation_id=first.json()["id"], actor=other)
    clock.move_to(SLOT - timedelta(minutes=5))
    busy = ask()
    assert busy.status_code == 409 and busy.json()["code"] == "consultant_busy"


def test_reminders_go_out_once_24_hours_and_15_minutes_before(booking, clock):
    clock.move_to(SLOT - timedelta(hours=24, seconds=1))
    services.run_lifecycle()
    assert not BookingEmail.objects.filter(notice=Notice.REMINDER_24H).exists()
    clock.move_to(SLOT - timedelta(hours=24))
    services.run_lifecycle()
    services.run_lifecycle()
    assert BookingEmail.objects.filter(notice=Notice.REMINDER_24H).count() == 1
    clock.move_to(SLOT - timedelta(minutes=15))
    services.run_lifecycle()
    services.run_lifecycle()
    assert BookingEmail.objects.filter(notice=Notice.REMINDER_15M).count() == 1


def test_no_24_hour_reminder_for_a_booking_made_less_than_24_hours_ahead(
    as_client, session_type, clock
):
    soon = SLOT - timedelta(hours=22)  # Monday 12:30 local, 4.5 hours ahead
    data = as_client.post("/api/v1/bookings", book_body(session_type, start=soon), format="json")
    assert data.status_code == 201, data.content
    services.run_lifecycle()
    assert not BookingEmail.objects.filter(notice=Notice.REMINDER_24H).exists()


def test_emails_go_to_both_with_an_invitation_and_never_twice(
    as_client,
    session_type,
    client_user,
    consultant,
    emails_eager,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    from bookings import emails

    with django_capture_on_commit_callbacks(execute=True):
        data = as_client.post("/api/v1/bookings", book_body(session_type), format="json").json()
    assert len(mailoutbox) == 2
    assert {m.to[0] for m in mailoutbox} == {client_user.email, consultant.user.email}
    first = mailoutbox[0]
    assert first.subject == f"Booking confirmed: {session_type.title}"
    assert f"/bookings/{data['id']}/" in first.body
    name, ics, mimetype = first.attachments[0]
    assert name == "booking.ics" and mimetype.startswith("text/calendar")
    text = ics.decode() if isinstance(ics, bytes) else ics
    assert "BEGIN:VEVENT" in text and "DTSTART" in text and f"booking-{data['id']}" in text
    row = BookingEmail.objects.get(booking_id=data["id"], notice=Notice.CONFIRMED)
    assert row.sent_at is not None
    # A repeated task (a retry, a duplicate) sends nothing more.
    assert emails.send_email_event(row.id) is False
    assert len(mailoutbox) == 2


def test_a_cancellation_email_tells_the_client_the_refund(
    as_client,
    session_type,
    client_user,
    emails_eager,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        data = as_client.post("/api/v1/bookings", book_body(session_type), format="json").json()
        as_client.post(f"/api/v1/bookings/{data['id']}/cancel", {"reason": "travel"}, format="json")
    cancelled = [m for m in mailoutbox if m.subject.startswith("Booking cancelled")]
    assert len(cancelled) == 2
    to_client = next(m for m in cancelled if m.to == [client_user.email])
    assert "Refund to your wallet: ₹1,500.00 of ₹1,500.00." in to_client.body
    assert "Reason: travel" in to_client.body
    ics = to_client.attachments[0][1]
    assert "METHOD:CANCEL" in (ics.decode() if isinstance(ics, bytes) else ics)


def test_a_failed_send_is_retried_later_and_sent_once(
    as_client, session_type, clock, monkeypatch, mailoutbox, settings
):
    from bookings import emails

    as_client.post("/api/v1/bookings", book_body(session_type), format="json")
    row = BookingEmail.objects.get(notice=Notice.CONFIRMED)
    calls = {"n": 0}
    real = emails.EmailMessage.send

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("SMTP down")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(emails.EmailMessage, "send", flaky)
    with pytest.raises(OSError):
        emails.send_email_event(row.id)
    row.refresh_from_db()
    assert row.sent_at is None and row.claimed_at is None and row.attempts == 1
    assert emails.send_email_event(row.id) is True
    assert emails.send_email_event(row.id) is False
    assert len(mailoutbox) == 2
