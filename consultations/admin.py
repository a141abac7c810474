"""Operator screens for consultations: filters, a timeline of each one's money and state, and
the force-end and refund actions (which call the services; no rule lives here)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from config.admin_site import ActionsOnlyAdmin, status_rows, timeline_table
from config.errors import ApiError
from consultations import services
from consultations.models import Consultation, ConsultationEvent, EndReason, Status
from consultations.refunds import MAX_REASON_LENGTH, refund_consultation, refunded_so_far
from wallets.admin import ledger_rows


class RefundForm(forms.Form):
    amount = forms.IntegerField(min_value=1, label="Amount (paise)")
    reason = forms.CharField(max_length=MAX_REASON_LENGTH, required=False)


def timeline(consultation: Consultation) -> list[tuple]:
    """(when, what, details) rows: the audit events and every ledger transaction that
    references the consultation (charges, refunds)."""
    events = ConsultationEvent.objects.filter(consultation=consultation).select_related("actor")
    people = {consultation.client_id: "client", consultation.consultant.user_id: "consultant"}
    return status_rows(events) + ledger_rows("consultation", consultation.id, people)


@admin.register(Consultation)
class ConsultationAdmin(ActionsOnlyAdmin):
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
    shown_too = ("charges_timeline",)

    @admin.display(description="Timeline (events and ledger transactions)")
    def charges_timeline(self, obj: Consultation):
        if obj is None or obj.pk is None:
            return "-"
        return timeline_table(timeline(obj), f"Refunded so far: {refunded_so_far(obj)} paise.")

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
