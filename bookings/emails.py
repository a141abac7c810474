"""Booking emails: confirmation, cancellation (with the refund), no-show, reminders 24 hours and
15 minutes before; each to both participants with an iCalendar (`.ics`) invitation.

Exactly once per event: the event's `BookingEmail` row is written in the transaction of the
event (unique per booking and notice), and `send_after_commit` queues the Celery task once it
commits. The task claims the row with a compare-and-set (`claimed_at` null, or a claim older
than `CLAIM_TIMEOUT` left by a dead worker) before it sends and marks it sent afterwards, so a
retried, repeated or duplicated task never sends twice. A failed send releases the claim and
is retried (Celery's retry, then the lifecycle job's catch-up of unsent rows).

Mail goes through Django's email framework: the console backend by default (`make run` prints
the messages), SMTP when `EMAIL_URL` is set (README "Bookings").
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from bookings.models import Booking, BookingEmail, Notice

logger = logging.getLogger(__name__)

CLAIM_TIMEOUT = timedelta(minutes=5)
# An invitation's SEQUENCE: 0 for the confirmation and its reminders, 1 for any later change.
_FIRST_SEQUENCE: dict[str, int] = {
    Notice.CONFIRMED: 0,
    Notice.REMINDER_24H: 0,
    Notice.REMINDER_15M: 0,
}


def send_after_commit(email_id: int) -> None:
    """Queues the sending of one email event once the current transaction commits."""

    def queue() -> None:
        from bookings.tasks import send_booking_email

        try:
            send_booking_email.delay(email_id)
        except Exception:  # noqa: BLE001 - the lifecycle job sends what was never queued
            logger.exception("could not queue booking email %s", email_id)

    transaction.on_commit(queue)


def _rupees(paise: int) -> str:
    from web.templatetags.site import format_rupees

    return format_rupees(paise)


def _when(moment: datetime, zone_name: str) -> str:
    local = moment.astimezone(ZoneInfo(zone_name))
    return f"{formats.date_format(local, 'DATETIME_FORMAT')} ({zone_name})"


def _url(booking: Booking) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/bookings/{booking.id}/"


def _zone(booking: Booking) -> str:
    schedule = getattr(booking.consultant, "schedule", None)
    return schedule.timezone if schedule is not None else settings.TIME_ZONE


def compose(booking: Booking, notice: str, *, to_client: bool) -> tuple[str, str]:
    """The subject and body for one participant."""
    other = booking.consultant.user.name if to_client else booking.client.name
    values = {
        "title": booking.title,
        "other": other,
        "when": _when(booking.start_at, _zone(booking)),
        "minutes": booking.duration_minutes,
        "price": _rupees(booking.price),
        "url": _url(booking),
    }
    if notice == Notice.CONFIRMED:
        subject = _("Booking confirmed: %(title)s") % values
        body = (
            _(
                "Your booking is confirmed.\n"
                "\n"
                "%(title)s with %(other)s\n"
                "%(when)s, %(minutes)s minutes\n"
                "Price: %(price)s\n"
                "\n"
                "Join from %(url)s when the room opens, a few minutes before the start."
            )
            % values
        )
    elif notice == Notice.CANCELLED:
        subject = _("Booking cancelled: %(title)s") % values
        lines = [_("The booking %(title)s with %(other)s on %(when)s was cancelled.") % values]
        if booking.cancel_reason:
            lines.append(_("Reason: %(reason)s") % {"reason": booking.cancel_reason})
        if to_client:
            lines.append(
                _("Refund to your wallet: %(refund)s of %(price)s.")
                % {**values, "refund": _rupees(booking.refund_amount)}
            )
        body = "\n\n".join(lines)
    elif notice == Notice.NO_SHOW:
        subject = _("Missed booking: %(title)s") % values
        who = _("the consultant") if booking.no_show_by == "consultant" else _("the client")
        body = _("The booking %(title)s on %(when)s did not take place: %(who)s did not join.") % {
            **values,
            "who": who,
        }
        if to_client and booking.refund_amount:
            body += "\n\n" + (
                _("Refund to your wallet: %(refund)s of %(price)s.")
                % {**values, "refund": _rupees(booking.refund_amount)}
            )
    else:
        lead = _("in 24 hours") if notice == Notice.REMINDER_24H else _("in 15 minutes")
        subject = _("Reminder: %(title)s starts %(lead)s") % {**values, "lead": lead}
        body = _(
            "%(title)s with %(other)s starts %(lead)s: %(when)s, %(minutes)s minutes.\n"
            "\n"
            "Join from %(url)s"
        ) % {**values, "lead": lead}
    return subject, body


def invitation(booking: Booking, notice: str) -> bytes:
    """The booking as an iCalendar event (`METHOD:CANCEL` once it will not take place)."""
    from icalendar import Calendar, Event, vCalAddress

    cancelled = notice in (Notice.CANCELLED, Notice.NO_SHOW)
    calendar = Calendar()
    calendar.add("prodid", "-//Consult//Bookings//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", f"booking-{booking.id}@consult")
    event.add("dtstamp", timezone.now())
    event.add("dtstart", booking.start_at)
    event.add("dtend", booking.end_at)
    event.add("summary", f"{booking.title}: {booking.client.name} / {booking.consultant.user.name}")
    event.add("description", _url(booking))
    event.add("url", _url(booking))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    # The sequence rises with each change, so a calendar replaces the earlier invitation.
    event.add(
        "sequence",
        _FIRST_SEQUENCE.get(notice, 1),
    )
    organizer = vCalAddress(f"mailto:{settings.DEFAULT_FROM_EMAIL}")
    event["organizer"] = organizer
    for person in (booking.client, booking.consultant.user):
        event.add("attendee", vCalAddress(f"mailto:{person.email}"))
    calendar.add_component(event)
    return calendar.to_ical()


def messages(booking: Booking, notice: str) -> list[EmailMessage]:
    """One message to each participant (in the site's language), each with the `.ics`."""
    found = []
    ics = invitation(booking, notice)
    with translation.override(settings.LANGUAGE_CODE):
        for to_client, person in ((True, booking.client), (False, booking.consultant.user)):
            if not person.email:
                continue
            subject, body = compose(booking, notice, to_client=to_client)
            message = EmailMessage(subject=subject, body=body, to=[person.email])
            message.attach(
                "booking.ics",
                ics,
                "text/calendar; method="
                + ("CANCEL" if notice in (Notice.CANCELLED, Notice.NO_SHOW) else "REQUEST"),
            )
            found.append(message)
    return found


def send_email_event(email_id: int) -> bool:
    """Sends one email event if nobody has (claim, send, mark sent). Returns whether this call
    sent it. Raises what the mail backend raises (the claim is released first: a retry may
    send it)."""
    now = timezone.now()
    claimed = (
        BookingEmail.objects.filter(id=email_id, sent_at__isnull=True)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
        .update(claimed_at=now)
    )
    if not claimed:
        return False
    row = BookingEmail.objects.select_related(
        "booking__client", "booking__consultant__user", "booking__consultant__schedule"
    ).get(id=email_id)
    try:
        for message in messages(row.booking, row.notice):
            message.send()
    except Exception:
        BookingEmail.objects.filter(id=email_id, claimed_at=now).update(
            claimed_at=None, attempts=row.attempts + 1
        )
        raise
    BookingEmail.objects.filter(id=email_id).update(
        sent_at=timezone.now(), attempts=row.attempts + 1
    )
    return True


def unsent_email_ids(*, older_than: timedelta = timedelta(minutes=1), limit: int = 100) -> list:
    """Email events not sent a while after they were written (a lost task, a failed send)."""
    cutoff = timezone.now() - older_than
    return list(
        BookingEmail.objects.filter(sent_at__isnull=True, created_at__lte=cutoff, attempts__lt=10)
        .order_by("created_at")
        .values_list("id", flat=True)[:limit]
    )
