"""Operator screens: earnings read-only; payouts paid or rejected through the services."""

from django.contrib import admin, messages

from config.admin_site import ActionsOnlyAdmin, ReadOnlyAdmin
from config.errors import ApiError
from earnings import services
from earnings.models import Earning, Payout, PayoutStatus


@admin.register(Earning)
class EarningAdmin(ReadOnlyAdmin):
    list_display = ["consultation", "consultant", "gross", "commission", "net", "refunded"]
    list_select_related = ["consultation", "consultant__user"]
    search_fields = ["consultant__user__email", "consultant__user__name", "=consultation__id"]
    date_hierarchy = "created_at"


@admin.register(Payout)
class PayoutAdmin(ActionsOnlyAdmin):
    list_display = ["id", "consultant", "amount", "status", "created_at", "decided_at"]
    list_filter = ["status"]
    list_select_related = ["consultant"]
    search_fields = ["consultant__email", "consultant__name"]
    actions = ["mark_paid", "reject"]

    def _decide(self, request, queryset, service, done: str) -> None:
        for payout in queryset:
            try:
                decided = service(payout_id=payout.id, actor=request.user)
            except ApiError as exc:
                self.message_user(request, f"{payout}: {exc.detail}", messages.ERROR)
            else:
                self.message_user(request, f"{decided}: {done}")

    @admin.action(description="Mark the selected payouts paid (the money leaves the wallet)")
    def mark_paid(self, request, queryset):
        self._decide(
            request,
            queryset.filter(status=PayoutStatus.REQUESTED),
            services.mark_payout_paid,
            "paid",
        )

    @admin.action(description="Reject the selected payouts (their hold is released)")
    def reject(self, request, queryset):
        self._decide(
            request,
            queryset.filter(status=PayoutStatus.REQUESTED),
            services.reject_payout,
            "rejected",
        )
