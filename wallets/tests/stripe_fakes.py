"""Stripe at the network edge: its API's answers (for `responses`), its signed webhooks, and
Stripe.js in a browser (Playwright routes)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs

import responses

API = "https://api.stripe.com/v1"
SECRET_KEY = "sk_test_platform"
PUBLISHABLE_KEY = "pk_test_platform"
WEBHOOK_SECRET = "whsec_platform_test"


def use_stripe(settings) -> None:
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


@contextmanager
def stripe_http(settings, *, intent_id: str | None = None, amount: int = 0) -> Iterator:
    """Stripe mode, its API faked with `responses` (yielded, for more answers): a charge's fees
    not known yet (asked after each credit); with `intent_id`, a PaymentIntent of `amount`
    paise made and read back unpaid."""
    use_stripe(settings)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        if intent_id is not None:
            mock.post(f"{API}/payment_intents", json=intent(intent_id, amount))
            mock.get(f"{API}/payment_intents/{intent_id}", json=intent(intent_id, amount))
        mock.get(re.compile(rf"{API}/charges/ch_\w+"), json={"balance_transaction": None})
        yield mock


def intent(
    intent_id: str,
    amount: int,
    *,
    status: str = "requires_payment_method",
    charge: str | None = None,
    received: int | None = None,
) -> dict:
    """A PaymentIntent as Stripe's API answers it."""
    succeeded = status == "succeeded"
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": (amount if received is None else received) if succeeded else 0,
        "currency": "inr",
        "status": status,
        "client_secret": f"{intent_id}_secret_abc",
        "latest_charge": charge,
        "last_payment_error": None,
        "metadata": {},
    }


def refund_object(refund_id: str, *, charge: str, amount: int, ours, status="succeeded") -> dict:
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "charge": charge,
        "status": status,
        "metadata": {"refund_id": str(ours)},
    }


def form(request) -> dict[str, str]:
    """The form-encoded body Stripe's client sent, one value per key."""
    body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
    return {key: values[0] for key, values in parse_qs(body).items()}


def event(event_id: str, kind: str, obj: dict) -> bytes:
    return json.dumps(
        {"id": event_id, "object": "event", "type": kind, "data": {"object": obj}}
    ).encode()


def signature(body: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def post_event(api, body: bytes, header: str | None = None):
    return api.generic(
        "POST",
        "/api/v1/payments/stripe/webhook",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature(body) if header is None else header,
    )


# --- Stripe.js, in a browser --------------------------------------------------------------------

STRIPE_JS = "https://js.stripe.com/v3/"
# (No named group: Playwright hands the pattern to the browser, whose regular expressions differ.)
CONFIRM = re.compile(r"^https://api\.stripe\.com/v1/payment_intents/([\w-]+)/confirm$")
DECLINED = {
    "type": "card_error",
    "code": "card_declined",
    "message": "Your card was declined.",
}

# Stripe.js (https://js.stripe.com/v3/) as far as our pages use it (static/js/stripe-checkout.js,
# static/js/room/recharge.js): `Stripe(key)`, `elements({clientSecret})`, `create("payment")`,
# `mount(selector or element)` and `confirmPayment({elements, redirect, confirmParams})`. Like
# the real one, confirmPayment asks Stripe's API from the browser (`POST
# /v1/payment_intents/<id>/confirm` with the `return_url`, answered by the test's route: see
# `serve_stripe_js`) and resolves `{paymentIntent}` once it succeeded, `{error}` (with Stripe's
# message) when it did not; it never rejects. Each call is recorded in `window.stripeCalls`.
FAKE_STRIPE_JS = """
(() => {
  const calls = (window.stripeCalls = []);
  window.Stripe = (key) => {
    calls.push({ call: "Stripe", key });
    return {
      elements({ clientSecret }) {
        calls.push({ call: "elements", clientSecret });
        return {
          intent: clientSecret.split("_secret_")[0],
          create(kind) {
            calls.push({ call: "create", kind });
            return {
              mount(target) {
                const box = typeof target === "string" ? document.querySelector(target) : target;
                calls.push({ call: "mount", target: box.id || box.className });
                box.innerHTML =
                  '<div data-testid="fake-payment-element" style="border:1px solid #d0d5dd;' +
                  'border-radius:8px;padding:12px;font:14px system-ui">' +
                  '<div style="color:#667085">Card number</div>' +
                  '<div style="letter-spacing:2px">4242 4242 4242 4242 &nbsp; 12/34 &nbsp; 123' +
                  "</div></div>";
              },
            };
          },
        };
      },
      async confirmPayment({ elements, redirect, confirmParams }) {
        calls.push({ call: "confirmPayment", redirect });
        const url = `https://api.stripe.com/v1/payment_intents/${elements.intent}/confirm`;
        const body = new URLSearchParams({ return_url: confirmParams.return_url });
        const answer = await (await fetch(url, { method: "POST", body })).json();
        return answer.error ? { error: answer.error } : { paymentIntent: answer };
      },
    };
  };
})();
"""


def serve_stripe_js(page, stripe_api, *, outcome: str = "succeeded", charge: str = "ch_1"):
    """Stripe at the browser's network edge: `page` gets FAKE_STRIPE_JS for Stripe.js, and
    Stripe.js's confirmation of a PaymentIntent is answered as Stripe would, with `outcome`
    (`succeeded`, or `declined`: a card error, the intent left unpaid). A success also makes
    Stripe's server API (`stripe_api`, a `responses` mock the live server's requests go
    through: same process) answer the intent as succeeded from then on. Answers the list of
    confirmations the page asked for (`{"intent": id, "return_url": url}`), growing."""
    cors = {"Access-Control-Allow-Origin": "*"}
    confirmations: list[dict] = []

    def confirm(route):
        intent_id = CONFIRM.match(route.request.url)[1]
        sent = parse_qs(route.request.post_data or "")
        confirmations.append({"intent": intent_id, "return_url": sent["return_url"][0]})
        amount = _intent_amount(stripe_api, intent_id)
        if outcome == "declined":
            route.fulfill(status=402, json={"error": DECLINED}, headers=cors)
            return
        paid = intent(intent_id, amount, status="succeeded", charge=charge)
        stripe_api.upsert(responses.GET, f"{API}/payment_intents/{intent_id}", json=paid)
        route.fulfill(json=paid, headers=cors)

    page.route(
        STRIPE_JS,
        lambda route: route.fulfill(body=FAKE_STRIPE_JS, content_type="application/javascript"),
    )
    page.route(CONFIRM, confirm)
    return confirmations


def _intent_amount(stripe_api, intent_id: str) -> int:
    """The amount of the PaymentIntent Stripe's API made (the `responses` answer the server
    got when it created it)."""
    for call in stripe_api.calls:
        if call.request.method == "POST" and call.request.url == f"{API}/payment_intents":
            made = json.loads(call.response.content)
            if made["id"] == intent_id:
                return made["amount"]
    raise LookupError(intent_id)
