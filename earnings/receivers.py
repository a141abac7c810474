"""The earnings app listens to the consultations app (which never imports it)."""

from django.dispatch import receiver

from consultations.models import Kind
from consultations.refunds import consultation_refunded
from consultations.signals import consultation_ended
from earnings import services


# IsolatedSignal has the connect() that `receiver` calls, though it is not a django Signal.
@receiver(consultation_ended, dispatch_uid="earnings.record_earning")  # type: ignore[arg-type]
def record_earning(sender, consultation, **kwargs):
    """In the ending transaction: the consultation's earning record. A booked consultation is
    paid through its booking (which records what it earns), not by the second."""
    if consultation.kind == Kind.INSTANT:
        services.record_earning(consultation=consultation)


@receiver(consultation_refunded, dispatch_uid="earnings.apply_refund")
def apply_refund(sender, consultation, refund, **kwargs):
    """In the refund's transaction: the earning record, net of the refund."""
    services.apply_refund(consultation=consultation, refund=refund)
