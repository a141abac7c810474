"""Sign-up, log-in (with the one-time code step), log-out and the account page.

Every rule is the API's: `accounts.services.authenticate` (lockout, MFA),
`register_user`, the MFA services, and the same `auth` throttle per client IP on the POSTs
that sign in or register (its bucket is shared with the API's, so switching doors gains
nothing). A Django session replaces the tokens.
"""

from __future__ import annotations

import io
import time

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import login as start_session
from django.contrib.auth import logout as end_session
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts import services
from accounts.forms import (
    AccountForm,
    BirthDetailsForm,
    CodeForm,
    LoginForm,
    MfaCodeForm,
    SignupForm,
)
from accounts.models import User, normalize_email
from accounts.throttling import AuthRateThrottle
from config.clientip import client_ip
from config.errors import ApiError, message_for
from web.forms import safe_next

# The one backend (settings.AUTHENTICATION_BACKENDS): its sign-in is services.authenticate.
BACKEND = "accounts.backends.AccountBackend"
# The code step of a login must follow its password step within this many seconds.
MFA_STEP_SECONDS = 300
MFA_SESSION_KEY = "mfa_login"


def home_for(user: User) -> str:
    return reverse("web:dashboard") if user.is_consultant else reverse("web:consultants")


def _throttled(request: HttpRequest) -> str | None:
    """The API's `auth` throttle (THROTTLE_RATE_AUTH per client IP), or None if allowed."""
    throttle = AuthRateThrottle()
    # A Django request, and no view: the throttle reads only the client address (request.META).
    if throttle.allow_request(request, None):  # type: ignore[arg-type]
        return None
    wait = int(throttle.wait() or 1)
    return _("Too many attempts from your network. Try again in %(s)d seconds.") % {"s": wait}


def _sign_in(request: HttpRequest, user: User) -> HttpResponse:
    request.session.pop(MFA_SESSION_KEY, None)
    start_session(request, user, backend=BACKEND)
    return redirect(safe_next(request, home_for(user)))


def _login_error(error: ApiError) -> str:
    if error.code == "account_locked":
        until = getattr(error, "until", None)
        if until is not None:
            when = formats.time_format(timezone.localtime(until), "H:i")
            return _(
                "Too many failed attempts. For your safety this account is locked until "
                "%(time)s; try again then."
            ) % {"time": when}
        return _("Too many failed attempts. Try again in 15 minutes.")
    if error.code == "invalid_otp":
        return _("That code is wrong or already used. Enter the code your app shows now.")
    return _("The email or password is wrong.")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(home_for(request.user))
    form = SignupForm(request.POST or None, initial={"role": request.GET.get("role", "client")})
    status = 200
    if request.method == "POST" and form.is_valid():
        limited = _throttled(request)
        if limited:
            form.add_error(None, limited)
            status = 429
        else:
            try:
                user = services.register_user(
                    email=form.cleaned_data["email"],
                    password=form.cleaned_data["password"],
                    name=form.cleaned_data["name"],
                    role=form.cleaned_data["role"],
                )
            except ApiError as error:
                if error.code == "email_taken":
                    form.add_error("email", _("An account with this email already exists."))
                else:
                    form.add_error(None, message_for(error))
                status = 409 if error.code == "email_taken" else 400
            else:
                start_session(request, user, backend=BACKEND)
                if user.is_consultant:
                    messages.success(
                        request,
                        _(
                            "Welcome! Fill in your profile and upload a document: an operator "
                            "verifies you, then you can go online."
                        ),
                    )
                    return redirect("web:dashboard-profile")
                messages.success(request, _("Welcome! Add money to your wallet to start."))
                return redirect(safe_next(request, reverse("web:consultants")))
    elif request.method == "POST":
        status = 400
    return render(request, "accounts/signup.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return redirect(safe_next(request, home_for(request.user)))
    if request.method == "POST" and "code" in request.POST:
        return _code_step(request)
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            limited = _throttled(request)
            if limited:
                form.add_error(None, limited)
                status = 429
            else:
                email = form.cleaned_data["email"]
                try:
                    user = services.authenticate(
                        email=email,
                        password=form.cleaned_data["password"],
                        client_ip=client_ip(request),
                    )
                except ApiError as error:
                    if error.code == "mfa_required":
                        return _start_code_step(request, email)
                    form.add_error(None, _login_error(error))
                    status = error.status_code
                else:
                    return _sign_in(request, user)
    return render(
        request,
        "accounts/login.html",
        {"form": form, "next": safe_next(request, "")},
        status=status,
    )


def _start_code_step(request: HttpRequest, email: str) -> HttpResponse:
    """The password was right and MFA is on: remember who, for a few minutes, and ask for the
    code. Nothing of the password is kept."""
    # The same normal form as authenticate's lookup (a case-insensitive match could pick
    # another account whose address differs only by a look-alike letter).
    user = User.objects.filter(email=normalize_email(email)).only("id").first()
    if user is None:  # deleted between the two queries
        return redirect("web:login")
    request.session[MFA_SESSION_KEY] = {"user_id": str(user.id), "at": time.time()}
    return render(
        request,
        "accounts/login_code.html",
        {"form": CodeForm(), "next": safe_next(request, "")},
    )


def _code_step(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(MFA_SESSION_KEY) or {}
    if not pending or time.time() - pending.get("at", 0) > MFA_STEP_SECONDS:
        request.session.pop(MFA_SESSION_KEY, None)
        messages.warning(request, _("That took too long. Please log in again."))
        return redirect("web:login")
    form = CodeForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            user = services.authenticate_second_factor(
                user_id=pending["user_id"],
                otp=form.cleaned_data["code"],
                client_ip=client_ip(request),
            )
        except ApiError as error:
            if error.code in ("account_locked", "invalid_credentials"):
                request.session.pop(MFA_SESSION_KEY, None)
                messages.error(request, _login_error(error))
                return redirect("web:login")
            form.add_error("code", _login_error(error))
            status = error.status_code
        else:
            return _sign_in(request, user)
    return render(
        request,
        "accounts/login_code.html",
        {"form": form, "next": safe_next(request, "")},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def logout(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        end_session(request)
        messages.info(request, _("You are logged out."))
        return redirect("web:home")
    return render(request, "accounts/logout.html")


def _qr_svg(url: str) -> str:
    """The otpauth:// URL as an inline SVG QR code (made here: nothing leaves the site)."""
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    out = io.BytesIO()
    image.save(out)
    svg = out.getvalue().decode()
    return svg[svg.index("<svg") :]


@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    action = request.POST.get("action", "")
    profile_form = AccountForm(
        request.POST if action == "profile" else None,
        initial={"name": user.name, "phone": user.phone},
    )
    code_form = MfaCodeForm(request.POST if action in ("mfa_enable", "mfa_disable") else None)
    birth_form = BirthDetailsForm(
        request.POST if action == "birth" else None, initial=BirthDetailsForm.initial_for(user)
    )
    status = 200
    if action == "birth":
        if birth_form.is_valid():
            services.update_account(user=user, birth_details=birth_form.birth_details())
            messages.success(request, _("Your birth details are saved."))
            return redirect(reverse("web:account") + "#birth")
        status = 400
    elif action == "birth_clear":
        services.update_account(user=user, birth_details=None)
        messages.success(request, _("Your birth details are removed."))
        return redirect(reverse("web:account") + "#birth")
    elif action == "profile":
        if profile_form.is_valid():
            services.update_account(
                user=user,
                name=profile_form.cleaned_data["name"],
                phone=profile_form.cleaned_data["phone"],
            )
            messages.success(request, _("Saved."))
            return redirect("web:account")
        status = 400
    elif action == "mfa_setup":
        try:
            services.setup_mfa(user=user)
        except ApiError:
            messages.info(request, _("Two-step login is already on."))
        return redirect(reverse("web:account") + "#mfa")
    elif action in ("mfa_enable", "mfa_disable") and code_form.is_valid():
        service = services.enable_mfa if action == "mfa_enable" else services.disable_mfa
        try:
            service(user=user, otp=code_form.cleaned_data["code"])
        except ApiError as error:
            if error.code == "invalid_otp":
                code_form.add_error("code", _login_error(error))
                status = 400
            else:
                messages.info(request, message_for(error))
                return redirect("web:account")
        else:
            if action == "mfa_enable":
                messages.success(
                    request, _("Two-step login is on. You will need a code each time you log in.")
                )
            else:
                messages.success(request, _("Two-step login is off."))
            return redirect("web:account")
    elif action in ("mfa_enable", "mfa_disable"):
        status = 400

    user.refresh_from_db(fields=["mfa_enabled", "mfa_secret"])
    setup = None
    if not user.mfa_enabled and user.mfa_secret:
        url = services.otpauth_url(user=user)
        setup = {"secret": user.mfa_secret, "qr": _qr_svg(url), "url": url}
    return render(
        request,
        "accounts/account.html",
        {
            "profile_form": profile_form,
            "code_form": code_form,
            "birth_form": birth_form,
            "setup": setup,
            "action": action,
        },
        status=status,
    )
