"""With real commits, every batch's frames have arrived when the tick returns."""

from datetime import UTC, datetime

import pytest
import time_machine

from accounts.tests.factories import ClientFactory
from consultants.tests.factories import OnlineConsultantFactory
from consultations import services
from wallets.tests.factories import fund

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_every_batchs_billing_ticks_have_arrived_when_the_tick_returns(settings, listen):
    settings.MIN_MINUTES = 1
    with time_machine.travel(START, tick=False) as traveller:
        consultations = []
        for _ in range(3):
            client = ClientFactory()
            fund(client, 100_000)
            consultant = OnlineConsultantFactory(rate_chat=600)
            started = services.start_consultation(
                client=client, consultant_id=consultant.id, channel="chat"
            )
            consultations.append(
                services.accept_consultation(consultation_id=started.id, actor=consultant.user)
            )
        listener = listen(*(c.client for c in consultations))
        traveller.shift(10)
        # Real commits (a transactional test): each batch's frames go out after its commit.
        report = services.bill_due_consultations(batch_size=1)
    assert (report.batches, report.charges) == (3, 3)
    ticks = [f for f in listener.frames(timeout=0.2) if f["type"] == "billing_tick"]
    assert sorted(t["session_id"] for t in ticks) == sorted(str(c.id) for c in consultations)
    assert {t["billed_seconds"] for t in ticks} == {10}
