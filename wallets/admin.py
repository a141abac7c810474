"""Operator screens: the ledger read-only, payments with refunds, "explain this balance"."""

from django.contrib import admin, messages
from django.db.models import Sum
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from config.admin_site import ActionsOnlyAdmin, ReadOnlyAdmin
from config.errors import ApiError
from wallets import freezes, payments
from wallets.models import (
    Account,
    AccountKind,
    FrozenWallet,
    Hold,
    IdempotencyRecord,
    LedgerEntry,
    LedgerTransaction,
    Payment,
    Refund,
    WalletStatusChange,
    WebhookEvent,
)

EXPLAIN_ROWS = 500
# What a timeline calls the platform's own accounts.
ACCOUNT_NAMES = {AccountKind.PLATFORM_REVENUE: "platform", AccountKind.BOOKINGS_HELD: "held"}


def ledger_rows(reference_type: str, reference_id, people: dict) -> list[tuple]:
    """(when, kind, legs and description) rows of every ledger transaction that references
    one record, for `config.admin_site.timeline_table`; a leg is named by `people` (user id:
    "client", "consultant") or by its account's kind."""
    transactions = LedgerTransaction.objects.filter(
        reference_type=reference_type, reference_id=str(reference_id)
    ).prefetch_related("entries__account")

    def name(account) -> str:
        return people.get(account.user_id) or ACCOUNT_NAMES.get(account.kind) or account.kind

    rows = []
    for txn in transactions:
        legs = ", ".join(
            f"{name(entry.account)} {entry.amount:+d}"
            for entry in sorted(txn.entries.all(), key=lambda e: e.id)
        )
        rows.append((txn.created_at, txn.kind, f"{legs} — {txn.description}"))
    return rows


# Shown and read-only alike (one tuple, so that neither can drift).
_ENTRY_INLINE_FIELDS = ("account", "kind", "amount", "balance_after", "created_at")


class EntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = _ENTRY_INLINE_FIELDS
    readonly_fields = _ENTRY_INLINE_FIELDS
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ActionsOnlyAdmin):
    list_display = ["id", "kind", "user", "balance", "held", "available", "frozen", "explain"]
    list_filter = ["kind", ("user__frozen_wallet", admin.EmptyFieldListFilter)]
    search_fields = ["user__email", "user__name", "user__id"]
    list_select_related = ["user", "user__frozen_wallet"]
    actions = ["freeze_selected", "unfreeze_selected"]

    @admin.display(description="Frozen", boolean=True)
    def frozen(self, obj):
        if obj.user_id is None:
            return None
        return hasattr(obj.user, "frozen_wallet")

    @admin.action(description="Freeze the selected wallets (asks for a reason)")
    def freeze_selected(self, request, queryset):
        return self._change_status(request, queryset, "freeze")

    @admin.action(description="Unfreeze the selected wallets (asks for a reason)")
    def unfreeze_selected(self, request, queryset):
        return self._change_status(request, queryset, "unfreeze")

    def _change_status(self, request, queryset, change: str):
        """An intermediate page asks for the reason (audited), then freezes or unfreezes
        through `wallets.freezes`, as the API does."""
        wallets = list(queryset.filter(kind=AccountKind.USER_WALLET).select_related("user"))
        error = ""
        if "apply" in request.POST:
            reason = request.POST.get("reason", "").strip()
            if reason:
                service = freezes.freeze_wallet if change == "freeze" else freezes.unfreeze_wallet
                for account in wallets:
                    service(user=account.user, reason=reason, actor=request.user)
                done = "frozen" if change == "freeze" else "unfrozen"
                self.message_user(request, f"{len(wallets)} wallet(s) {done}: {reason}")
                return None
            error = "A reason is required: it is kept in the audit."
        context = {
            **self.admin_site.each_context(request),
            "title": f"{change.title()} wallets",
            "wallets": wallets,
            "change": change,
            "action": f"{change}_selected",
            "error": error,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/wallets/wallet_status.html", context)

    @admin.display(description="Explain")
    def explain(self, obj):
        url = reverse("admin:wallets_account_explain", args=[obj.pk])
        return format_html('<a href="{}">explain this balance</a>', url)

    def get_urls(self):
        extra = [
            path(
                "<int:account_id>/explain/",
                self.admin_site.admin_view(self.explain_view),
                name="wallets_account_explain",
            )
        ]
        return extra + super().get_urls()

    def explain_view(self, request, account_id: int):
        """The entries that make up the balance, oldest first, with running totals (the last
        EXPLAIN_ROWS of them, after an opening line summing the earlier ones)."""
        account = get_object_or_404(Account.objects.select_related("user"), pk=account_id)
        entries = LedgerEntry.objects.filter(account=account)
        shown = list(entries.select_related("transaction").order_by("-id")[:EXPLAIN_ROWS])[::-1]
        earlier = entries.filter(id__lt=shown[0].id) if shown else entries.none()
        opening = earlier.aggregate(total=Sum("amount"))["total"] or 0
        rows, running = [], opening
        for entry in shown:
            running += entry.amount
            rows.append({"entry": entry, "running": running, "ok": running == entry.balance_after})
        context = {
            **self.admin_site.each_context(request),
            "title": f"Explain the balance of {account}",
            "account": account,
            "rows": rows,
            "opening": opening,
            "earlier_count": earlier.count(),
            "total": running,
            "matches": running == account.balance,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/wallets/explain_balance.html", context)


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "idempotency_key", "reference_type", "reference_id", "created_at"]
    list_filter = ["kind", "reference_type"]
    search_fields = [
        "idempotency_key",
        "reference_id",
        "entries__account__user__email",
        "entries__account__user__name",
    ]
    inlines = [EntryInline]
    date_hierarchy = "created_at"


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "account", "kind", "amount", "balance_after", "created_at"]
    list_filter = ["kind", "account__kind"]
    search_fields = ["account__user__email", "account__user__name", "transaction__idempotency_key"]
    list_select_related = ["account", "account__user"]


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "account",
        "amount",
        "remaining",
        "status",
        "reference_type",
        "created_at",
    ]
    list_filter = ["status", "reference_type"]
    search_fields = ["account__user__email", "reference_id", "idempotency_key"]


# Shown and read-only alike (one tuple, so that neither can drift).
_REFUND_INLINE_FIELDS = (
    "amount",
    "status",
    "reason",
    "gateway_refund_id",
    "created_by",
    "created_at",
)


class RefundInline(admin.TabularInline):
    model = Refund
    fields = _REFUND_INLINE_FIELDS
    readonly_fields = _REFUND_INLINE_FIELDS
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Payment)
class PaymentAdmin(ActionsOnlyAdmin):
    list_display = [
        "id",
        "user",
        "amount",
        "amount_refunded",
        "status",
        "gateway_order_id",
        "gateway_payment_id",
        "created_at",
    ]
    list_filter = ["status", "gateway"]
    search_fields = ["user__email", "user__name", "gateway_order_id", "gateway_payment_id"]
    list_select_related = ["user"]
    inlines = [RefundInline]
    actions = ["refund_remaining"]

    @admin.action(description="Refund what is left of the selected payments")
    def refund_remaining(self, request, queryset):
        for payment in queryset:
            if payment.refundable <= 0:
                self.message_user(request, f"{payment}: nothing left to refund", messages.WARNING)
                continue
            try:
                refund = payments.refund_payment(
                    payment_id=payment.id,
                    amount=payment.refundable,
                    reason="Refunded by an operator from the admin",
                    created_by=request.user,
                )
            except ApiError as exc:
                self.message_user(request, f"{payment}: {exc.detail}", messages.ERROR)
            else:
                self.message_user(
                    request, f"{payment}: refund of {refund.amount} paise is {refund.status}"
                )


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ["id", "payment", "amount", "status", "gateway_refund_id", "created_at"]
    list_filter = ["status"]
    search_fields = ["payment__user__email", "payment__gateway_order_id", "gateway_refund_id"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "event", "outcome", "received_at"]
    list_filter = ["event", "outcome"]
    search_fields = ["event_id"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ["user", "scope", "key", "status_code", "created_at"]
    search_fields = ["user__email", "key"]


@admin.register(FrozenWallet)
class FrozenWalletAdmin(ReadOnlyAdmin):
    list_display = ["user", "reason", "frozen_by", "frozen_at"]
    search_fields = ["user__email", "user__name", "reason"]
    list_select_related = ["user", "frozen_by"]


@admin.register(WalletStatusChange)
class WalletStatusChangeAdmin(ReadOnlyAdmin):
    """The audit of freezes and unfreezes."""

    list_display = ["created_at", "user", "action", "reason", "actor"]
    list_filter = ["action"]
    search_fields = ["user__email", "user__name", "reason"]
    list_select_related = ["user", "actor"]
    date_hierarchy = "created_at"
