"""Proves the books: every invariant of the ledger, checked from the database.

`check_ledger()` is what `manage.py reconcile_ledger` runs and what the property-based tests
call after every step. It reads in chunks of accounts, so a large ledger is never loaded whole.

Its many queries read ONE snapshot of the books: on PostgreSQL, called outside a transaction,
it runs in a `REPEATABLE READ READ ONLY` transaction, so a billing tick committing while it
reads (an account's balance read before a charge, its entries after) cannot show up as a
violation. Inside a caller's transaction (the tests) it reads that transaction's view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, Q, Sum

from wallets import keys
from wallets.fees import fees_total
from wallets.models import (
    CREDITED_PAYMENT_STATUSES,
    Account,
    AccountKind,
    EntryKind,
    Hold,
    HoldStatus,
    LedgerEntry,
    LedgerTransaction,
    Payment,
    Refund,
    RefundStatus,
)

CHUNK = 1000


@dataclass
class Report:
    checked: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    # The platform's figures, paise: revenue (commissions), gateway fees, revenue net of fees.
    figures: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.violations


# Apps above this one add checks of their own books (bookings: the money held for bookings equals
# the bookings paid and not yet settled). Each is called with the report and appends violations.
_extra_checks: dict[str, Callable[[Report], None]] = {}


def add_check(check: Callable[[Report], None], *, uid: str) -> None:
    """Registers `check(report)` (idempotent per `uid`; call it from an `AppConfig.ready`)."""
    _extra_checks[uid] = check


def _sum(queryset, name: str = "amount") -> int:
    return queryset.aggregate(total=Sum(name))["total"] or 0


def check_ledger(*, progress: Callable[[str], None] | None = None, chunk: int = CHUNK) -> Report:
    """Every invariant of the books, read from one consistent snapshot (module docstring)."""
    if _postgres() and not connection.in_atomic_block:
        with transaction.atomic(durable=True):
            with connection.cursor() as cursor:
                # Must be the transaction's first statement: every query below sees the
                # database as it was at the first of them.
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return _check_ledger(progress, chunk)
    return _check_ledger(progress, chunk)


def _check_ledger(progress: Callable[[str], None] | None, chunk: int) -> Report:
    report = Report()
    say = progress or (lambda message: None)

    # 1. Every transaction's legs sum to zero (and it has two legs or more).
    unbalanced = (
        LedgerEntry.objects.values("transaction_id")
        .annotate(total=Sum("amount"), legs=Count("id"))
        .filter(~Q(total=0) | Q(legs__lt=2))
    )
    for row in unbalanced[:1000]:
        report.violations.append(
            f"transaction {row['transaction_id']} has {row['legs']} legs summing to {row['total']}"
        )
    report.checked.append("every transaction's legs sum to zero")

    # 2-4. Per account, in chunks: balance = sum of entries, last balance_after = balance,
    # user wallets never negative, held = open holds, 0 <= held <= balance.
    total_accounts = Account.objects.count()
    done = 0
    last_id = 0
    while True:
        accounts = list(Account.objects.filter(id__gt=last_id).order_by("id")[:chunk])
        if not accounts:
            break
        ids = [a.id for a in accounts]
        sums = dict(
            LedgerEntry.objects.filter(account_id__in=ids)
            .values_list("account_id")
            .annotate(total=Sum("amount"))
        )
        holds = dict(
            Hold.objects.filter(account_id__in=ids, status=HoldStatus.OPEN)
            .values_list("account_id")
            .annotate(total=Sum("remaining"))
        )
        for account in accounts:
            entries_total = sums.get(account.id, 0)
            if account.balance != entries_total:
                report.violations.append(
                    f"account {account.id} ({account}) balance {account.balance} != "
                    f"its entries {entries_total}"
                )
            if account.held != holds.get(account.id, 0):
                report.violations.append(
                    f"account {account.id} ({account}) held {account.held} != open holds "
                    f"{holds.get(account.id, 0)}"
                )
            if account.is_user_wallet and account.balance < 0:
                report.violations.append(f"wallet {account.id} is negative: {account.balance}")
            if account.held < 0 or (account.is_user_wallet and account.held > account.balance):
                report.violations.append(
                    f"wallet {account.id} holds {account.held} of {account.balance}"
                )
        last_entries = (
            LedgerEntry.objects.filter(account_id__in=ids)
            .order_by("account_id", "-id")
            .distinct("account_id")
            .values_list("account_id", "balance_after")
            if _postgres()
            else []
        )
        balances = {a.id: a.balance for a in accounts}
        for account_id, balance_after in last_entries:
            if balance_after != balances[account_id]:
                report.violations.append(
                    f"account {account_id}: last balance_after {balance_after} != balance "
                    f"{balances[account_id]}"
                )
        done += len(accounts)
        last_id = accounts[-1].id
        say(f"accounts checked: {done}/{total_accounts}")
    report.checked.append("every account's balance equals the sum of its entries")
    report.checked.append("no user wallet is negative; 0 <= held <= balance")
    report.checked.append("every account's held equals its open holds")

    # 5. The books as a whole sum to zero.
    grand = _sum(Account.objects.all(), "balance")
    if grand != 0:
        report.violations.append(f"the balances of all accounts sum to {grand}, not 0")
    report.checked.append("all balances sum to zero")

    # 6. Platform revenue is the commissions and nothing else.
    revenue = Account.objects.filter(kind=AccountKind.PLATFORM_REVENUE, user__isnull=True).first()
    if revenue is not None:
        other = LedgerEntry.objects.filter(account=revenue).exclude(kind=EntryKind.COMMISSION)
        if other.exists():
            report.violations.append(
                f"platform revenue has {other.count()} entries that are not commissions"
            )
        commissions = _sum(LedgerEntry.objects.filter(kind=EntryKind.COMMISSION))
        if revenue.balance != commissions:
            report.violations.append(
                f"platform revenue {revenue.balance} != commissions {commissions}"
            )
    report.checked.append("platform revenue equals the commissions")

    # 7. Captured payments equal recharges, refunds equal refund debits.
    credited = Payment.objects.filter(status__in=CREDITED_PAYMENT_STATUSES)
    captured = _sum(credited)
    recharges = _sum(
        LedgerEntry.objects.filter(kind=EntryKind.RECHARGE, account__kind=AccountKind.USER_WALLET)
    )
    if captured != recharges:
        report.violations.append(f"captured payments {captured} != recharges {recharges}")
    missing = 0
    for ids in _chunks(credited.order_by("id").values_list("id", flat=True), chunk):
        wanted = {keys.recharge(payment_id): payment_id for payment_id in ids}
        found = set(
            LedgerTransaction.objects.filter(idempotency_key__in=wanted).values_list(
                "idempotency_key", flat=True
            )
        )
        for key in wanted.keys() - found:
            missing += 1
            if missing <= 100:
                report.violations.append(f"payment {wanted[key]} is captured but never credited")
    refunded = _sum(Payment.objects.all(), "amount_refunded")
    refund_rows = _sum(
        Refund.objects.filter(status__in=[RefundStatus.PENDING, RefundStatus.PROCESSED])
    )
    refund_debits = -_sum(
        LedgerEntry.objects.filter(
            kind=EntryKind.REFUND,
            account__kind=AccountKind.USER_WALLET,
            transaction__reference_type="payment_refund",
        )
    )
    if not refunded == refund_rows == refund_debits:
        report.violations.append(
            f"refunded amounts disagree: payments {refunded}, refunds {refund_rows}, "
            f"wallet debits {refund_debits}"
        )
    # 8. Gateway fees: each payment's known fee posted once, as the platform's expense; what the
    # gateway owes (clearing) is the captured money less refunds and fees.
    fees = _sum(Payment.objects.filter(fee__isnull=False), "fee")
    expense = fees_total()
    fee_postings = LedgerTransaction.objects.filter(kind=EntryKind.GATEWAY_FEE).count()
    with_fee = Payment.objects.filter(fee__gt=0).count()
    if not fees == expense or fee_postings != with_fee:
        report.violations.append(
            f"gateway fees disagree: payments {fees}, expense {expense}; "
            f"{fee_postings} fee postings for {with_fee} payments with a fee"
        )
    fee_account = Account.objects.filter(kind=AccountKind.GATEWAY_FEES, user__isnull=True).first()
    if fee_account is not None and fee_account.balance != -expense:
        report.violations.append(f"gateway fees account {fee_account.balance} != -{expense}")
    clearing = Account.objects.filter(kind=AccountKind.GATEWAY_CLEARING, user__isnull=True).first()
    if clearing is not None and clearing.balance != -(captured - refunded - fees):
        report.violations.append(
            f"gateway clearing {clearing.balance} != -(captured {captured} - refunded "
            f"{refunded} - fees {fees})"
        )
    report.checked.append("captured payments equal recharges; refunds equal refund debits")

    for check in list(_extra_checks.values()):
        check(report)
    report.checked.append("gateway fees posted once each; clearing = captured - refunds - fees")
    commissions = _sum(LedgerEntry.objects.filter(kind=EntryKind.COMMISSION))
    report.figures = {
        "revenue": commissions,
        "gateway_fees": expense,
        "net_revenue": commissions - expense,
    }
    return report


def _chunks(values, size: int):
    batch = []
    for value in values.iterator(chunk_size=size):
        batch.append(value)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _postgres() -> bool:
    return connection.vendor == "postgresql"
