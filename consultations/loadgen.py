"""Many active consultations at once, for the billing benchmark and the crash test.

Rows are bulk-inserted (a few thousand a second), but the books stay true: every client's
money enters through `post_transactions_batch` (one balanced adjustment per client), so
`reconcile_ledger` is clean before and after billing.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

from django.db import transaction

from accounts.models import Role, User
from consultants.models import ConsultantProfile
from consultations.billing import affordable_seconds
from consultations.models import Consultation, Status
from wallets import keys
from wallets.models import Account, AccountKind, EntryKind
from wallets.services import Leg, Posting, post_transactions_batch, system_account

CHUNK = 1000


def create_active_sessions(
    count: int,
    *,
    started_at: datetime,
    balance: int,
    rates: tuple[int, int] = (100, 6000),
    seed: int = 0,
    tag: str | None = None,
) -> list[uuid.UUID]:
    """`count` active chat consultations started at `started_at`, each between a new client
    holding `balance` paise and a new verified consultant; rates drawn in `rates` (paise a
    minute). Returns the consultation ids."""
    tag = tag or uuid.uuid4().hex[:8]
    rng = random.Random(seed)
    ids: list[uuid.UUID] = []
    adjustments = system_account(AccountKind.PLATFORM_ADJUSTMENTS)
    for first in range(0, count, CHUNK):
        size = min(CHUNK, count - first)
        with transaction.atomic():
            clients = User.objects.bulk_create(
                User(
                    email=f"load-{tag}-c{first + i}@example.com",
                    name=f"Load client {first + i}",
                    role=Role.CLIENT,
                    password="!",  # unusable
                )
                for i in range(size)
            )
            consultant_users = User.objects.bulk_create(
                User(
                    email=f"load-{tag}-k{first + i}@example.com",
                    name=f"Load consultant {first + i}",
                    role=Role.CONSULTANT,
                    password="!",
                )
                for i in range(size)
            )
            profiles = []
            chat_rates: list[int] = []
            for user in consultant_users:
                chat_rates.append(rng.randint(*rates))
                profile = ConsultantProfile(
                    user=user,
                    rate_chat=chat_rates[-1],
                    is_verified=True,
                    verified_at=started_at,
                    is_online=True,
                    is_busy=True,
                )
                profile.refresh_derived_fields()
                profiles.append(profile)
            ConsultantProfile.objects.bulk_create(profiles)
            client_wallets = Account.objects.bulk_create(
                Account(kind=AccountKind.USER_WALLET, user=user) for user in clients
            )
            Account.objects.bulk_create(
                Account(kind=AccountKind.USER_WALLET, user=user) for user in consultant_users
            )
            post_transactions_batch(
                postings=[
                    Posting(
                        kind=EntryKind.ADJUSTMENT,
                        legs=[
                            Leg(adjustments, -balance, EntryKind.ADJUSTMENT),
                            Leg(wallet, balance, EntryKind.ADJUSTMENT),
                        ],
                        idempotency_key=keys.adjustment("loadgen", tag, wallet.id),
                        description="load test funds",
                    )
                    for wallet in client_wallets
                ]
            )
            rows = Consultation.objects.bulk_create(
                Consultation(
                    client=client,
                    consultant=profile,
                    channel="chat",
                    status=Status.ACTIVE,
                    rate_per_minute=rate,
                    requested_at=started_at,
                    started_at=started_at,
                    last_billed_at=started_at,
                    # As accepting sets it: the second the client's money runs out.
                    ends_at=started_at
                    + timedelta(seconds=affordable_seconds(rate_per_minute=rate, budget=balance)),
                )
                for client, profile, rate in zip(clients, profiles, chat_rates, strict=True)
            )
            ids.extend(row.id for row in rows)
    return ids
