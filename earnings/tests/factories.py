"""Earnings test data made the way production makes it: consultations billed and ended by the
consultations services, payouts requested through the earnings services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from accounts.tests.factories import ClientFactory
from consultants.tests.factories import OnlineConsultantFactory
from consultations.models import Consultation
from consultations.services import end_consultation
from consultations.tests.factories import ActiveConsultationFactory
from wallets.tests.factories import fund

ENDED_AT = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)  # 15:00 in Asia/Kolkata


def ended_consultation(
    *,
    rate: int = 600,
    seconds: int = 100,
    client=None,
    consultant=None,
    funds: int = 100_000,
    at: datetime = ENDED_AT,
) -> Consultation:
    """An active chat consultation at `rate` paise a minute, ended by its client after exactly
    `seconds` billed seconds at `at` (so the client paid floor(rate * seconds / 60))."""
    if client is None:
        client = ClientFactory()
        fund(client, funds)
    consultant = consultant or OnlineConsultantFactory(rate_chat=rate)
    # The row is made with no open consultation for this consultant or client left behind.
    with time_machine.travel(at, tick=False):
        started = at - timedelta(seconds=seconds)
        consultation = ActiveConsultationFactory.create(
            client=client,
            consultant=consultant,
            rate_per_minute=rate,
            started_at=started,
            requested_at=started,
            last_billed_at=started,
        )
        end_consultation(consultation_id=consultation.id, actor=client)
    consultation.refresh_from_db()
    return consultation
