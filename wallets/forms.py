"""The wallet page's forms: a recharge in rupees, and the transaction filters."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from wallets.models import USER_ENTRY_KINDS
from wallets.payments import MAX_RECHARGE, MIN_RECHARGE

PRESETS = [10_000, 50_000, 100_000, 200_000]  # paise: ₹100, ₹500, ₹1,000, ₹2,000


class RechargeForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount (₹)"),
        min_value=Decimal(MIN_RECHARGE) / 100,
        max_value=Decimal(MAX_RECHARGE) / 100,
        max_digits=9,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )

    def paise(self) -> int:
        return int(self.cleaned_data["amount"] * 100)


class TransactionFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Type"),
        required=False,
        choices=[("", _("All")), *[(k.value, k.label) for k in USER_ENTRY_KINDS]],
    )
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
