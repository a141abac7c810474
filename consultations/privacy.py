"""Who reads a client's birth details on a consultation (CONTRACT.md "Accounts").

A client's `birth_details` are shown to a consultant of the `astrology` category only, and only
inside their own pending, active or ended consultations with that client, as
`client_birth_details` on the consultation as that consultant reads it. Everyone else (the
client, an admin, another consultant, a consultant of another category, anyone reading a
declined, cancelled, expired or force-ended consultation) gets no such key at all. The one
rule is here; the serializer asks it with the reader's user id.
"""

from __future__ import annotations

from typing import Any

from consultations.models import Consultation, Status

ASTROLOGY = "astrology"
STATUSES = frozenset({Status.PENDING, Status.ACTIVE, Status.ENDED})


def reads_client_birth_details(*, consultation: Consultation, reader_id: Any) -> bool:
    """True if the user `reader_id` may read the client's birth details on `consultation`.

    Cheap for everyone but the consultation's own consultant: the status and the reader are
    compared before the consultant's profile and category are looked at (select_related
    `consultant__category` where many are read)."""
    if reader_id is None or consultation.status not in STATUSES:
        return False
    if str(reader_id) == str(consultation.client_id):
        return False
    profile = consultation.consultant
    if str(profile.user_id) != str(reader_id) or profile.category is None:
        return False
    return profile.category.slug == ASTROLOGY
