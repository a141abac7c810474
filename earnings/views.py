"""The consultant's earnings page (`/earnings/`): the summary, earnings per consultation,
payouts and a payout request (the API's `request_payout`)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts.permissions import signed_in_user
from config.errors import ApiError, message_for
from earnings.models import Earning, Payout
from earnings.selectors import earnings_summary
from earnings.services import request_payout
from wallets.services import wallet_for
from web.decorators import role_required

ROWS = 50


class PayoutForm(forms.Form):
    amount = forms.DecimalField(
        label=gettext_lazy("Amount (₹)"),
        min_value=Decimal("1.00"),
        max_digits=14,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )


@role_required("consultant")
@require_http_methods(["GET", "POST"])
def earnings(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    form = PayoutForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                request_payout(consultant=user, amount=int(form.cleaned_data["amount"] * 100))
            except ApiError as error:
                if error.code == "insufficient_balance":
                    form.add_error("amount", _("That is more than your available balance."))
                else:
                    form.add_error(None, message_for(error))
                status = error.status_code
            else:
                messages.success(
                    request, _("Payout requested. The amount is held until it is paid to you.")
                )
                return redirect("web:earnings")
    return render(
        request,
        "earnings/earnings.html",
        {
            "summary": earnings_summary(consultant_user=user),
            "wallet": wallet_for(user=user),
            "earnings": list(
                Earning.objects.filter(consultant__user=user)
                .select_related("consultation__client")
                .order_by("-created_at", "-id")[:ROWS]
            ),
            "payouts": list(Payout.objects.filter(consultant=user).order_by("-created_at")[:ROWS]),
            "form": form,
        },
        status=status,
    )
