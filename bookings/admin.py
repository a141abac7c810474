"""Operator screens for bookings: filters (status, date, consultant), the timeline of each
one's events and money, and cancelling with a full refund (the service's rule, not ours)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from bookings import services
from bookings.models import Booking, BookingEmail, BookingEvent, Schedule, SessionType, Status
from config.errors import ApiError
from wallets.models import AccountKind, LedgerTransaction


def _leg_owner(entry, booking: Booking) -> str:
    account = entry.account
    if account.user_id == booking.client_id:
        return "client"
    if account.user_id == booking.consultant.user_id:
        return "consultant"
    if account.kind == AccountKind.PLATFORM_REVENUE:
        return "platform"
    if account.kind == AccountKind.BOOKINGS_HELD:
        return "held"
    return account.kind


def timeline(booking: Booking) -> list[tuple]:
    """(when, what, details) rows: the audit events, the emails and every ledger transaction
    that references the booking, oldest first."""
    rows = [
        (
            event.at,
            f"{event.from_status or '-'} → {event.to_status}",
            f"{event.reason} (by {event.actor or 'the system'})",
        )
        for event in BookingEvent.objects.filter(booking=booking).select_related("actor")
    ]
    for email in BookingEmail.objects.filter(booking=booking):
        sent = f"sent {email.sent_at:%Y-%m-%d %H:%M:%S}" if email.sent_at else "not sent yet"
        rows.append((email.created_at, f"email: {email.notice}", sent))
    transactions = LedgerTransaction.objects.filter(
        reference_type="booking", reference_id=str(booking.id)
    ).prefetch_related("entries__account")
    for txn in transactions:
        legs = ", ".join(
            f"{_leg_owner(entry, booking)} {entry.amount:+d}"
            for entry in sorted(txn.entries.all(), key=lambda e: e.id)
        )
        rows.append((txn.created_at, txn.kind, f"{legs} — {txn.description}"))
    return sorted(rows, key=lambda row: row[0])


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "title",
        "client",
        "consultant",
        "start_at",
        "status",
        "price",
        "refund_amount",
        "payment_method",
    ]
    list_filter = [
        "status",
        ("start_at", admin.DateFieldListFilter),
        "payment_method",
        "consultant",
    ]
    search_fields = ["=id", "client__email", "client__name", "consultant__user__email", "title"]
    list_select_related = ["client", "consultant__user"]
    date_hierarchy = "start_at"
    actions = ["cancel_with_full_refund"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # Needed for actions to show; every field stays read-only.
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + ["money_timeline"]

    @admin.display(description="Timeline (events, emails and ledger transactions)")
    def money_timeline(self, obj: Booking):
        if obj is None or obj.pk is None:
            return "-"
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((f"{when:%Y-%m-%d %H:%M:%S}", what, details) for when, what, details in timeline(obj)),
        )
        return format_html(
            "<table><thead><tr><th>When (UTC)</th><th>What</th><th>Details</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            body,
        )

    @admin.action(description="Cancel the selected bookings with a full refund")
    def cancel_with_full_refund(self, request, queryset):
        for booking in queryset:
            if booking.status not in (Status.PENDING, Status.CONFIRMED):
                self.message_user(
                    request, f"{booking}: only a pending or confirmed one", messages.WARNING
                )
                continue
            try:
                done = services.cancel_by_operator(
                    booking_id=booking.id, actor=request.user, reason="Cancelled by the platform"
                )
            except ApiError as exc:
                self.message_user(request, f"{booking}: {exc.detail}", messages.ERROR)
            else:
                self.message_user(
                    request, f"{done}: cancelled, {done.refund_amount} paise refunded"
                )


@admin.register(SessionType)
class SessionTypeAdmin(admin.ModelAdmin):
    list_display = ["title", "consultant", "channel", "duration_minutes", "price", "is_active"]
    list_filter = ["is_active", "channel"]
    search_fields = ["title", "consultant__user__email"]
    list_select_related = ["consultant__user"]


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["consultant", "timezone", "min_notice_hours", "horizon_days"]
    search_fields = ["consultant__user__email"]
    list_select_related = ["consultant__user"]
