"""A frozen wallet's open consultations end (CONTRACT.md "Wallet and payments").

`wallets.freezes.wallet_frozen` is sent after a freeze commits; this receiver ends, through the
consultations door, every open consultation the wallet's owner is part of (as the client or as
the consultant): an active one is force-ended with `end_reason: "admin"` (its last seconds
billed first), a pending request is cancelled (a request that never started has no end to
force). Each in a transaction of its own; one that another path closed meanwhile is skipped.
"""

from __future__ import annotations

import logging

from django.db.models import Q

from config.errors import ApiError
from consultations import services
from consultations.models import Consultation, EndReason, Status

logger = logging.getLogger(__name__)


def end_open_consultations(*, user_id, **_signal) -> int:
    """Ends the open consultations of `user_id`; returns how many it ended."""
    ended = 0
    open_ones = Consultation.objects.filter(
        Q(client_id=user_id) | Q(consultant__user_id=user_id),
        status__in=[Status.PENDING, Status.ACTIVE],
    ).values_list("id", "status")
    for consultation_id, status in list(open_ones):
        try:
            if status == Status.ACTIVE:
                services.force_end_consultation(
                    consultation_id=consultation_id, reason=EndReason.ADMIN
                )
            else:
                services.cancel_pending_consultation(consultation_id=consultation_id)
        except ApiError as error:  # closed meanwhile (ended, declined, expired)
            logger.info("frozen wallet: consultation %s not ended: %s", consultation_id, error)
            continue
        ended += 1
    return ended
