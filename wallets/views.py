"""The wallet (`/wallet/`) and the offline gateway's checkout (`/wallet/checkout/<id>/`).

A recharge is the API's: `create_recharge` opens the gateway order, and the payment is
credited only through `verify_recharge` with the gateway's signature, whether it comes from
Razorpay Checkout (razorpay mode) or from the local checkout page playing the gateway.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import signed_in_user
from config.errors import ApiError, message_for
from wallets import freezes, payments
from wallets.forms import PRESETS, RechargeForm, TransactionFilterForm
from wallets.gateway import LocalGateway
from wallets.models import LedgerEntry, Payment, PaymentStatus
from web.decorators import role_required
from web.forms import safe_next

PAGE_SIZE = 25


def _local_day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def transactions(request: HttpRequest, wallet, form: TransactionFilterForm):
    """One page of the wallet's entries, newest first, filtered; keyset on (time, id) with the
    last entry's public id as the cursor (`?before=`)."""
    entries = LedgerEntry.objects.filter(account=wallet).select_related("transaction")
    if form.is_valid():
        if form.cleaned_data["kind"]:
            entries = entries.filter(kind=form.cleaned_data["kind"])
        if form.cleaned_data["since"]:
            entries = entries.filter(created_at__gte=_local_day_start(form.cleaned_data["since"]))
        if form.cleaned_data["until"]:
            end = _local_day_start(form.cleaned_data["until"] + timedelta(days=1))
            entries = entries.filter(created_at__lt=end)
    before = request.GET.get("before")
    if before:
        try:
            anchor = (
                LedgerEntry.objects.filter(account=wallet, public_id=uuid.UUID(before))
                .values("created_at", "id")
                .first()
            )
        except ValueError:
            anchor = None
        if anchor is not None:
            entries = entries.filter(
                Q(created_at__lt=anchor["created_at"])
                | Q(created_at=anchor["created_at"], id__lt=anchor["id"])
            )
    rows = list(entries.order_by("-created_at", "-id")[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, (str(rows[-1].public_id) if more else None)


@role_required("client")
@require_http_methods(["GET", "POST"])
def wallet(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = RechargeForm(request.POST or None, initial=_initial_amount(request))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                payment = payments.create_recharge(user=user, amount=form.paise())
            except ApiError as error:
                form.add_error(None, message_for(error))
                status = error.status_code
            else:
                return _to_checkout(request, payment)
    account, freeze = freezes.wallet_and_freeze(user=user)  # (one query)
    request.wallet = account  # type: ignore[attr-defined]  # the header shows the same figures (web.context_processors)
    filters = TransactionFilterForm(request.GET or None)
    rows, older = transactions(request, account, filters)
    return render(
        request,
        "wallets/wallet.html",
        {
            "wallet": account,
            "form": form,
            "filters": filters,
            "entries": rows,
            "older": older,
            "presets": PRESETS,
            "freeze": freeze,
            "need": _need(request, account),
            "next": safe_next(request, ""),
            "razorpay": request.session.pop("razorpay_order", None)
            if request.method == "GET"
            else None,
            "stripe": request.session.pop("stripe_payment", None)
            if request.method == "GET"
            else None,
        },
        status=status,
    )


def _asked(request: HttpRequest) -> int | None:
    """`?need=`: paise, written in ASCII digits, or None. `str.isdigit` alone lets through what
    `int` refuses ("²"), and a number of thousands of digits is no amount either."""
    need = request.GET.get("need", "")
    if not (need.isascii() and need.isdigit()) or len(need) > 15:
        return None
    return int(need)


def _initial_amount(request: HttpRequest) -> dict:
    need = _asked(request)
    if need is not None and 0 < need <= payments.MAX_RECHARGE:
        rupees = max(need, payments.MIN_RECHARGE) / 100
        return {"amount": f"{rupees:.2f}"}
    return {}


def _need(request: HttpRequest, account) -> int | None:
    """Paise the client still has to add for what they came to do (`?need=` total)."""
    need = _asked(request)
    if need is None:
        return None
    missing = need - account.available
    return missing if missing > 0 else None


def _to_checkout(request: HttpRequest, payment: Payment) -> HttpResponse:
    next_url = safe_next(request, "")
    if settings.PAYMENT_GATEWAY == "local":
        url = reverse("web:checkout", args=[payment.id])
        return redirect(f"{url}?{urlencode({'next': next_url})}" if next_url else url)
    if payment.gateway == "stripe":
        # Stripe: the wallet page mounts Stripe.js's Payment Element for this PaymentIntent once
        # (static/js/stripe-checkout.js); the client secret lives only in the server's session.
        fields = payments.checkout_fields(payment)
        request.session["stripe_payment"] = {
            "payment_id": str(payment.id),
            "client_secret": fields["client_secret"],
            "publishable_key": fields["publishable_key"],
            "amount": payment.amount,
            "next": next_url,
        }
        # At the recharge card: on a phone it comes after the transactions, out of sight.
        return redirect(reverse("web:wallet") + "#recharge")
    # Razorpay: the wallet page opens Checkout once for this order (static/js/recharge.js).
    request.session["razorpay_order"] = {
        "key": settings.RAZORPAY_KEY_ID,
        "order_id": payment.gateway_order_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "next": next_url,
    }
    return redirect("web:wallet")


def _credited(request: HttpRequest, payment: Payment) -> HttpResponse:
    messages.success(
        request,
        _("%(amount)s added to your wallet.") % {"amount": _rupees(payment.amount)},
    )
    return redirect(safe_next(request, reverse("web:wallet")))


def _rupees(paise: int) -> str:
    from web.templatetags.site import format_rupees

    return format_rupees(paise)


@role_required("client")
@require_POST
def verify(request: HttpRequest) -> HttpResponse:
    """Razorpay Checkout's handler posts here (order, payment, signature), or Stripe.js's page
    (only `payment_id`: the platform asks the gateway): the same verify services as the API."""
    request.session.pop("razorpay_order", None)
    if "razorpay_signature" not in request.POST and request.POST.get("payment_id"):
        return _confirm(request, request.POST["payment_id"][:64])
    try:
        payment, _entry = payments.verify_recharge(
            user=request.user,
            razorpay_order_id=request.POST.get("razorpay_order_id", "")[:64],
            razorpay_payment_id=request.POST.get("razorpay_payment_id", "")[:64],
            razorpay_signature=request.POST.get("razorpay_signature", "")[:128],
        )
    except ApiError:
        messages.error(
            request,
            _(
                "We could not confirm this payment. If money left your account, it will be "
                "credited within minutes or refunded by the gateway."
            ),
        )
        return redirect("web:wallet")
    return _credited(request, payment)


@role_required("client")
@require_http_methods(["GET"])
def gateway_return(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    """Where Stripe sends the browser back after a payment that needed a redirect (a bank's
    page, a UPI app): asks Stripe about the payment, as verify does, and credits it once."""
    return _confirm(request, str(payment_id))


def _confirm(request: HttpRequest, payment_id: str) -> HttpResponse:
    try:
        payment, _entry = payments.confirm_recharge(user=request.user, payment_id=payment_id)
    except ApiError as error:
        messages.error(request, message_for(error))
        return redirect("web:wallet")
    return _credited(request, payment)


@role_required("client")
@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    """The offline gateway's checkout (PAYMENT_GATEWAY=local only): "Pay" does what Razorpay
    Checkout does, a captured payment and its signature, then the same verify service."""
    if settings.PAYMENT_GATEWAY != "local":
        raise Http404
    payment = Payment.objects.filter(id=payment_id, user=signed_in_user(request)).first()
    if payment is None:
        raise Http404
    if payment.status != PaymentStatus.CREATED:
        messages.info(request, _("This payment is already complete."))
        return redirect("web:wallet")
    if request.method == "POST":
        gateway_payment_id, signature = LocalGateway.pay(payment.gateway_order_id)
        try:
            payment, _entry = payments.verify_recharge(
                user=request.user,
                razorpay_order_id=payment.gateway_order_id,
                razorpay_payment_id=gateway_payment_id,
                razorpay_signature=signature,
            )
        except ApiError as error:
            messages.error(request, message_for(error))
            return redirect("web:wallet")
        return _credited(request, payment)
    return render(
        request, "wallets/checkout.html", {"payment": payment, "next": safe_next(request, "")}
    )
