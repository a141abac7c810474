"""Operator screens for consultations: filters, a timeline of each one's money and state, and
the force-end and refund actions (which call the services; no rule lives here)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from config.errors import ApiError
from consultations import services
from consultations.models import Consultation, ConsultationEvent, EndReason, Status
from consultations.refunds import MAX_REASON_LENGTH, refund_consultation, refunded_so_far
from wallets.models import AccountKind, LedgerTransaction


class RefundForm(forms.Form):
    amount = forms.IntegerField(min_value=1, label="Amount (paise)")
    reason = forms.CharField(max_length=MAX_REASON_LENGTH, required=False)


def _leg_owner(entry, consultation: Consultation) -> str:
    account = entry.account
    if account.user_id == consultation.client_id:
        return "client"
    if account.user_id == consultation.consultant.user_id:
        return "consultant"
    if account.kind == AccountKind.PLATFORM_REVENUE:
        return "platform"
    return account.kind


def timeline(consultation: Consultation) -> list[tuple]:
    """(when, what, details) rows: the audit events and every ledger transaction that
    references the consultation (charges, refunds), oldest first."""
    rows = [
        (
            event.at,
            f"{event.from_status or '-'} → {event.to_status}",
            f"{event.reason} (by {event.actor or 'the system'})",
        )
        for event in ConsultationEvent.objects.filter(consultation=consultation).select_related(
            "actor"
        )
    ]
    transactions = LedgerTransaction.objects.filter(
        reference_type="consultation", reference_id=str(consultation.id)
    ).prefetch_related("entries__account")
    for txn in transactions:
        legs = ", ".join(
            f"{_leg_owner(entry, consultation)} {entry.amount:+d}"
            for entry in sorted(txn.entries.all(), key=lambda e: e.id)
        )
        rows.append((txn.created_at, txn.kind, f"{legs} — {txn.description}"))
    return sorted(rows, key=lambda row: row[0])


@admin.register(Consultation)
class ConsultationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "client",
        "consultant",
        "channel",
        "status",
        "rate_per_minute",
        "billed_seconds",
        "total_amount",
        "end_reason",
        "requested_at",
    ]
    list_filter = ["status", "channel", "end_reason", ("requested_at", admin.DateFieldListFilter)]
    search_fields = ["=id", "client__email", "client__name", "consultant__user__email"]
    list_select_related = ["client", "consultant__user"]
    date_hierarchy = "requested_at"
    actions = ["force_end", "refund"]
    readonly_fields = ["charges_timeline"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # Needed for actions to show; every field stays read-only.
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + ["charges_timeline"]

    @admin.display(description="Timeline (events and ledger transactions)")
    def charges_timeline(self, obj: Consultation):
        if obj is None or obj.pk is None:
            return "-"
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((f"{when:%Y-%m-%d %H:%M:%S}", what, details) for when, what, details in timeline(obj)),
        )
        return format_html(
            "<table><thead><tr><th>When (UTC)</th><th>What</th><th>Details</th></tr></thead>"
            "<tbody>{}</tbody></table><p>Refunded so far: {} paise.</p>",
            body,
            refunded_so_far(obj),
        )

    @admin.action(description="Force-end the selected active consultations (reason: admin)")
    def force_end(self, request, queryset):
        for consultation in queryset:
            if consultation.status != Status.ACTIVE:
                self.message_user(
                    request, f"{consultation}: only an active one can be ended", messages.WARNING
                )
                continue
            try:
                result = services.force_end_consultation(
                    consultation_id=consultation.id, reason=EndReason.ADMIN, actor=request.user
                )
            except ApiError as exc:
                self.message_user(request, f"{consultation}: {exc.detail}", messages.ERROR)
            else:
                ended = result.consultation
                self.message_user(
                    request,
                    f"{ended}: force-ended after {ended.billed_seconds} s, "
                    f"{ended.total_amount} paise charged",
                )

    @admin.action(description="Refund the selected consultation (in part or whole)")
    def refund(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Refund one consultation at a time.", messages.WARNING)
            return None
        consultation = queryset.select_related("consultant").get()
        form = RefundForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            try:
                entry = refund_consultation(
                    consultation_id=consultation.id,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except ApiError as exc:
                self.message_user(request, f"{consultation}: {exc.detail}", messages.ERROR)
            else:
                self.message_user(
                    request, f"{consultation}: {entry.amount} paise refunded to the client"
                )
            return None
        refunded = refunded_so_far(consultation)
        context = {
            **self.admin_site.each_context(request),
            "title": "Refund a consultation",
            "consultation": consultation,
            "refunded": refunded,
            "refundable": consultation.total_amount - refunded,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/consultations/consultation/refund.html", context)
