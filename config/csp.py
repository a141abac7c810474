"""The Content-Security-Policy of the site's pages (README "Content-Security-Policy").

Every script, style sheet, image and socket of a page comes from the platform itself (UI.md),
so a page may load only from 'self'; the one exception is the payment gateway's own script and
the frames and calls it makes, and only in that gateway's mode (Stripe's hosts as Stripe's
security guide lists them; Razorpay Checkout's script and the frame it opens). No page has an
inline script or an event-handler attribute, so scripts never need 'unsafe-inline': an injected
`<script>` or `onerror=` does not run. Style attributes are allowed (`style-src-attr`): the
templates set a margin or a gap with them, a style attribute runs nothing, and style sheets
themselves come only from 'self'.

The API's JSON and the static files carry no policy: a policy governs what a document loads,
and they are not documents. Django has no CSP of its own before 6.0; this is the few lines it
needs, not a dependency.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"

# What each gateway's checkout loads beyond the platform, per directive.
GATEWAY_SOURCES: dict[str, dict[str, list[str]]] = {
    # https://docs.stripe.com/security/guide#content-security-policy
    "stripe": {
        "script-src": ["https://js.stripe.com"],
        "frame-src": ["https://js.stripe.com", "https://hooks.stripe.com"],
        "connect-src": ["https://api.stripe.com"],
    },
    # checkout.js (static/js/recharge.js, room/recharge.js) opens its form in a frame of
    # api.razorpay.com, which talks to Razorpay from inside that frame.
    "razorpay": {
        "script-src": ["https://checkout.razorpay.com"],
        "frame-src": ["https://api.razorpay.com"],
    },
}


def policy(request: HttpRequest) -> str:
    """The header's value for a page of this request: the page's own WebSocket (`/ws/` on the
    host it was served from, wss: under https) besides 'self', which older browsers do not
    extend to WebSocket schemes."""
    socket = f"{'wss' if request.is_secure() else 'ws'}://{request.get_host()}"
    extra = GATEWAY_SOURCES.get(settings.PAYMENT_GATEWAY, {})
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *extra.get("script-src", [])],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "connect-src": ["'self'", socket, *extra.get("connect-src", [])],
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:"],
        "frame-src": ["'self'", *extra.get("frame-src", [])],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def _is_page(request: HttpRequest, response: HttpResponse) -> bool:
    kind = response.get("Content-Type", "").split(";")[0].strip()
    return kind == "text/html" and not request.path_info.startswith("/api/")


class ContentSecurityPolicyMiddleware:
    """Adds the policy to every HTML page that has none yet."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response and _is_page(request, response):
            response[HEADER] = policy(request)
        return response
