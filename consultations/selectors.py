"""Reads of a consultation that are more than a one-line query: what its meter says right now.

The consultation room (web) shows these figures on its first paint and after every reconnect,
so that what a person sees is what the billing engine would say at that instant: the same
arithmetic (`consultations.billing`), never a copy of it in a page's script.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from consultations.billing import plan_for
from consultations.models import Consultation, Kind, Status
from wallets.models import Hold, HoldStatus
from wallets.services import wallet_for


@dataclass(frozen=True)
class Meter:
    """A consultation's figures as of one instant (paise and whole seconds)."""

    billed_seconds: int
    total_amount: int  # what the client has paid so far
    earned: int  # the consultant's share of it (after the platform's commission)
    balance: int  # the client's wallet balance
    available: int  # ... less what is held
    # Seconds of talk the client's money still buys from now on (active instant consultations;
    # None otherwise): what `billing_tick.remaining_seconds` would say if a tick ran now.
    remaining_seconds: int | None
    # Seconds until a booked consultation's scheduled end (None otherwise).
    ends_in_seconds: int | None


def meter(consultation: Consultation, *, now: datetime) -> Meter:
    wallet = wallet_for(user=consultation.client)
    remaining = ends_in = None
    if consultation.status == Status.ACTIVE:
        if consultation.kind == Kind.INSTANT and consultation.rate_per_minute > 0:
            own_hold = 0
            if consultation.hold_id is not None:
                own_hold = (
                    Hold.objects.filter(id=consultation.hold_id, status=HoldStatus.OPEN)
                    .values_list("remaining", flat=True)
                    .first()
                ) or 0
            # What `billing_tick.remaining_seconds` would say if a tick ran now: the engine's
            # own plan, from the client's available balance plus what the hold still reserves.
            funds = wallet.balance - wallet.held + own_hold
            remaining = plan_for(consultation, funds=funds, now=now).remaining_seconds
        elif consultation.ends_at is not None:
            ends_in = max(0, int((consultation.ends_at - now) / timedelta(seconds=1)))
    return Meter(
        billed_seconds=consultation.billed_seconds,
        total_amount=consultation.total_amount,
        earned=consultation.consultant_amount,
        balance=wallet.balance,
        available=wallet.balance - wallet.held,
        remaining_seconds=remaining,
        ends_in_seconds=ends_in,
    )


def ring_seconds_left(consultation: Consultation, *, now: datetime) -> int:
    """Seconds before a pending request expires (0 once due: the next tick expires it)."""
    if consultation.status != Status.PENDING:
        return 0
    deadline = consultation.requested_at + timedelta(seconds=settings.RING_TIMEOUT_SECONDS)
    return max(0, int((deadline - now) / timedelta(seconds=1)))
