"""Operator screens for bookings: filters (status, date, consultant), the timeline of each
one's events and money, and cancelling with a full refund (the service's rule, not ours)."""

from __future__ import annotations

from django.contrib import admin, messages

from bookings import services
from bookings.models import Booking, BookingEmail, BookingEvent, Schedule, SessionType, Status
from config.admin_site import ActionsOnlyAdmin, status_rows, timeline_table
from config.errors import ApiError
from wallets.admin import ledger_rows


def timeline(booking: Booking) -> list[tuple]:
    """(when, what, details) rows: the audit events, the emails and every ledger transaction
    that references the booking."""
    events = BookingEvent.objects.filter(booking=booking).select_related("actor")
    rows = status_rows(events)
    for email in BookingEmail.objects.filter(booking=booking):
        sent = f"sent {email.sent_at:%Y-%m-%d %H:%M:%S}" if email.sent_at else "not sent yet"
        rows.append((email.created_at, f"email: {email.notice}", sent))
    people = {booking.client_id: "client", booking.consultant.user_id: "consultant"}
    return rows + ledger_rows("booking", booking.id, people)


@admin.register(Booking)
class BookingAdmin(ActionsOnlyAdmin):
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
    shown_too = ("money_timeline",)

    @admin.display(description="Timeline (events, emails and ledger transactions)")
    def money_timeline(self, obj: Booking):
        if obj is None or obj.pk is None:
            return "-"
        return timeline_table(timeline(obj))

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
