"""Celery tasks: thin wrappers over the bookings' services."""

from celery import shared_task

from bookings import emails, services


@shared_task(name="bookings.tasks.run_lifecycle")
def run_lifecycle() -> dict:
    sweep = services.run_lifecycle()
    return sweep.__dict__


@shared_task(
    name="bookings.tasks.send_booking_email",
    autoretry_for=(Exception,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=8,
)
def send_booking_email(email_id: int) -> bool:
    """Sends one email event (never twice: `emails.send_email_event` claims it first)."""
    return emails.send_email_event(email_id)
