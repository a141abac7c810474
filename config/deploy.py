"""What a production deployment (`DEBUG=0`) must set, checked while the settings load.

The settings module calls these readers; each refusal is collected into `Refusals` and raised
at the end of the module as one `ImproperlyConfigured`, so every process that loads the
settings (daphne, the Celery worker and beat, `manage.py check`) stops before it serves anything,
with a message that names every variable to set at once.

The critical case is the payment gateway: the offline `local` gateway checks signatures with
`RAZORPAY_KEY_SECRET`, so with a built-in (public) secret anyone could sign their own payment and
credit any amount. Outside `DEBUG=1` no built-in secret is ever used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_str

# The secrets each gateway needs, all required (with DEBUG=0 always; with DEBUG=1 too, except
# that `local` then falls back to the development values below). Adding a gateway is one entry.
GATEWAY_SECRETS: dict[str, tuple[str, ...]] = {
    "razorpay": ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET"),
    "stripe": ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET"),
    # The offline gateway signs and checks with Razorpay's scheme and the same secrets.
    "local": ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET"),
}

# DEBUG=1 with PAYMENT_GATEWAY=local only: public values, so refused anywhere else.
DEVELOPMENT_GATEWAY_SECRETS: dict[str, str] = {
    "RAZORPAY_KEY_ID": "rzp_test_local",
    "RAZORPAY_KEY_SECRET": "local-key-secret",
    "RAZORPAY_WEBHOOK_SECRET": "local-webhook-secret",
}

DEVELOPMENT_SECRET_KEY = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnop"
# Keys that were ever written in this repository (settings, docker-compose.yml): public.
KNOWN_SECRET_KEYS = frozenset(
    {
        DEVELOPMENT_SECRET_KEY,
        "change-me-in-production-0123456789abcdefghijklmnopqrstuvwxyz",
    }
)
SECRET_KEY_MIN_LENGTH = 50
_MAKE_A_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"


@dataclass
class Refusals:
    """The reasons a production process must not start, gathered while the settings load."""

    problems: list[str] = field(default_factory=list)

    def add(self, problem: str) -> None:
        self.problems.append(problem)

    def raise_if_any(self) -> None:
        if self.problems:
            lines = "\n".join(f"  - {problem}" for problem in self.problems)
            raise ImproperlyConfigured(
                f'Refusing to start with DEBUG=0 (README "A production deployment"):\n{lines}'
            )


def signing_key(name: str, *, debug: bool, refusals: Refusals, required: bool) -> str | None:
    """`SECRET_KEY` or `JWT_SIGNING_KEY`: with DEBUG=0, at least 50 characters, not one of the
    development defaults, not Django's `django-insecure-` placeholder."""
    value = env_str(name)
    if value is None:
        if debug:
            return DEVELOPMENT_SECRET_KEY if required else None
        if required:
            refusals.add(f"{name} must be set when DEBUG is off: {_MAKE_A_KEY}")
        return None
    if debug:
        return value
    if value in KNOWN_SECRET_KEYS or value.startswith("django-insecure-"):
        refusals.add(f"{name} is a development default, public in the repository: {_MAKE_A_KEY}")
    elif len(value) < SECRET_KEY_MIN_LENGTH or len(set(value)) < 5:
        refusals.add(
            f"{name} is {len(value)} characters: with DEBUG=0 it must be at least "
            f"{SECRET_KEY_MIN_LENGTH} random characters: {_MAKE_A_KEY}"
        )
    return value


@dataclass(frozen=True)
class Payments:
    gateway: str
    allow_offline: bool
    secrets: dict[str, str | None]  # every variable named in GATEWAY_SECRETS


def payments(*, debug: bool, refusals: Refusals) -> Payments:
    """`PAYMENT_GATEWAY`, `ALLOW_OFFLINE_PAYMENTS` and the gateway's secrets (CONTRACT.md
    "Settings that change behaviour").

    DEBUG=1: the gateway defaults to `local`, whose secrets default to public development values.
    DEBUG=0: `PAYMENT_GATEWAY` is required; `local` only with `ALLOW_OFFLINE_PAYMENTS=1`; every
    secret of the gateway must be set, and none may be a development value.
    """
    allow_offline = env_bool("ALLOW_OFFLINE_PAYMENTS", False)
    gateway = env_str("PAYMENT_GATEWAY", "local" if debug else None)
    choices = " or ".join(sorted(GATEWAY_SECRETS))
    if gateway is None:
        refusals.add(
            "PAYMENT_GATEWAY is not set: set PAYMENT_GATEWAY=razorpay or PAYMENT_GATEWAY=stripe "
            "(with its keys) to take payments, or PAYMENT_GATEWAY=local with "
            "ALLOW_OFFLINE_PAYMENTS=1 for a demo whose payments are not real"
        )
        return Payments(gateway="", allow_offline=allow_offline, secrets={})
    if gateway not in GATEWAY_SECRETS:
        raise ImproperlyConfigured(f"PAYMENT_GATEWAY={gateway!r}: use {choices}")
    if gateway == "local" and not debug and not allow_offline:
        refusals.add(
            "PAYMENT_GATEWAY=local is the offline gateway (no money really moves): set "
            "ALLOW_OFFLINE_PAYMENTS=1 if this is a demo or test deployment, else "
            "PAYMENT_GATEWAY=razorpay or PAYMENT_GATEWAY=stripe"
        )
    values: dict[str, str | None] = {}
    missing: list[str] = []
    for name in GATEWAY_SECRETS[gateway]:
        value = env_str(name)
        if value is None and debug and gateway == "local":
            value = DEVELOPMENT_GATEWAY_SECRETS.get(name)
        elif value is not None and not debug and value == DEVELOPMENT_GATEWAY_SECRETS.get(name):
            refusals.add(f"{name} is the public development value: set the gateway's real one")
        if value is None:
            missing.append(name)
        values[name] = value
    if missing:
        problem = f"PAYMENT_GATEWAY={gateway} needs {', '.join(missing)}"
        if debug:
            raise ImproperlyConfigured(problem)
        refusals.add(f"{problem} (no built-in secret is used with DEBUG=0)")
    # Other gateways' variables are read as they are (say, Razorpay's keys beside Stripe).
    for names in GATEWAY_SECRETS.values():
        for name in names:
            values.setdefault(name, env_str(name))
    return Payments(gateway=gateway, allow_offline=allow_offline, secrets=values)
