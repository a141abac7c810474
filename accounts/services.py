"""Accounts: registration, login (lockout, MFA), token rotation, logout, MFA set-up.

Every function here is keyword-only and raises the contract's errors (`accounts/errors.py`).
"""

import hmac
from datetime import datetime

import pyotp
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import lockout
from accounts.errors import (
    AccountLocked,
    EmailTaken,
    InvalidCredentials,
    InvalidOtp,
    MfaAlreadyEnabled,
    MfaNotEnabled,
    MfaNotSetUp,
    MfaRequired,
    TokenNotValid,
)
from accounts.models import Role, User
from accounts.signals import user_registered
from accounts.tokens import TokenPair, decode_refresh, issue_tokens
from config.errors import Invalid

MFA_ISSUER = "Consult"
# Roles anyone may pick when registering; admins are made with `createsuperuser`.
SELF_SERVICE_ROLES = (Role.CLIENT, Role.CONSULTANT)


# --- Registration ------------------------------------------------------------------------------


def register_user(
    *,
    email: str,
    password: str,
    name: str,
    role: str,
    phone: str = "",
    category: str | None = None,
) -> User:
    """Creates a client or consultant and sends `accounts.signals.user_registered(user=...,
    category=...)` inside the same transaction: a receiver that raises (the consultants app
    refusing an unknown category) rolls the registration back and its error reaches the caller.

    `category` is passed on for consultants only; for a client it is ignored.
    The password is expected to have passed Django's validators already (the serializer runs
    them, with the user's attributes for the similarity check).
    Raises 409 `email_taken`, also when a concurrent registration wins the race.
    """
    if role not in SELF_SERVICE_ROLES:
        raise Invalid("Role must be client or consultant.")
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise EmailTaken()
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email, password=password, name=name, role=role, phone=phone
            )
            user_registered.send(
                sender=User,
                user=user,
                category=category if role == Role.CONSULTANT else None,
            )
    except IntegrityError:
        # The unique constraint is the truth: a concurrent registration took the email.
        if User.objects.filter(email__iexact=email).exists():
            raise EmailTaken() from None
        raise
    return user


# --- Login ---------------------------------------------------------------------------------------


def _locked(until: datetime) -> AccountLocked:
    when = until.isoformat().replace("+00:00", "Z")
    error = AccountLocked(f"Too many failed logins. Try again after {when}.")
    error.until = until  # the pages say it in the viewer's zone
    return error


def authenticate(*, email: str, password: str, otp: str | None = None) -> User:
    """Checks the credentials (and the one-time code when MFA is on): every rule of a login,
    for the API (`login`, which issues tokens) and the pages (a Django session) alike.

    401 `invalid_credentials`, 401 `mfa_required` (MFA on and no code; not a failure),
    401 `invalid_otp` (a failure), 423 `account_locked` (see `accounts.lockout`: the attempt is
    counted before the password is checked, so concurrent guesses cannot pass the limit).
    An unknown email costs a password hash like a known one and is counted like one.
    """
    now = timezone.now()
    try:
        attempt = lockout.start_attempt(email, now=now)
    except lockout.AccountLocked as locked:
        raise _locked(locked.until) from None

    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        make_password(password)  # the same work as a real check: no timing oracle
        attempt.failed()
        raise InvalidCredentials()
    if not user.check_password(password) or not user.is_active:
        attempt.failed()
        raise InvalidCredentials()

    if user.mfa_enabled:
        if not otp:
            attempt.not_a_failure()
            raise MfaRequired()
        if not _use_otp(user, otp, now=now):
            attempt.failed()
            raise InvalidOtp(status=401)

    return _signed_in(user, attempt, now=now)


def authenticate_second_factor(*, user_id, otp: str) -> User:
    """The second step of a two-step login (the pages): the password was checked by
    `authenticate`, which answered `mfa_required`; this checks the one-time code.

    Counted by the same lockout as `authenticate` (a wrong code is a failure; a locked account
    answers 423), so splitting a login in two steps gives a guesser nothing more.
    401 `invalid_credentials` if the user is gone, deactivated or has MFA off meanwhile.
    """
    now = timezone.now()
    user = User.objects.filter(pk=user_id).first()
    if user is None or not user.is_active or not user.mfa_enabled:
        raise InvalidCredentials()
    try:
        attempt = lockout.start_attempt(user.email, now=now)
    except lockout.AccountLocked as locked:
        raise _locked(locked.until) from None
    if not _use_otp(user, otp, now=now):
        attempt.failed()
        raise InvalidOtp(status=401)
    return _signed_in(user, attempt, now=now)


def _signed_in(user: User, attempt: lockout.Attempt, *, now: datetime) -> User:
    attempt.succeeded()
    User.objects.filter(pk=user.pk).update(last_login=now)  # for operators, in the admin
    user.last_login = now
    return user


def login(*, email: str, password: str, otp: str | None = None) -> tuple[User, TokenPair]:
    """`authenticate`, then a fresh pair of tokens (the API's login)."""
    user = authenticate(email=email, password=password, otp=otp)
    return user, issue_tokens(user)


# --- Tokens --------------------------------------------------------------------------------------


def refresh_tokens(*, refresh: str) -> TokenPair:
    """Rotates a refresh token: the given one is blacklisted and a new pair is issued, with the
    user's current role. 401 `token_not_valid` for a bad, expired, used or logged-out token, or
    one whose user is gone or deactivated.

    Exactly one of many concurrent refreshes of one token succeeds: the token's
    `OutstandingToken` row is locked (`select_for_update`) before the blacklist is checked and
    written, and the blacklist's unique token column backs that up.
    """
    try:
        jti, user_id = decode_refresh(refresh)
    except TokenError as exc:
        raise TokenNotValid(str(exc)) from None
    try:
        with transaction.atomic():
            outstanding = OutstandingToken.objects.select_for_update().filter(jti=jti).first()
            if outstanding is None or outstanding.user_id != user_id:
                raise TokenNotValid()
            if BlacklistedToken.objects.filter(token=outstanding).exists():
                raise TokenNotValid("Token is blacklisted.")
            user = User.objects.filter(pk=user_id, is_active=True).first()
            if user is None:
                raise TokenNotValid("No active account for this token.")
            BlacklistedToken.objects.create(token=outstanding)
            return issue_tokens(user)
    except IntegrityError:
        raise TokenNotValid("Token is blacklisted.") from None


def logout(*, user: User, refresh: str) -> None:
    """Blacklists the user's refresh token. A token that is not valid, already used or logged
    out, or that belongs to someone else answers 401 `token_not_valid` (and someone else's token
    is left alone)."""
    try:
        jti, user_id = decode_refresh(refresh)
    except TokenError as exc:
        raise TokenNotValid(str(exc)) from None
    if user_id != user.id:
        raise TokenNotValid("This refresh token is not yours.")
    with transaction.atomic():
        outstanding = OutstandingToken.objects.select_for_update().filter(jti=jti).first()
        if outstanding is None:
            raise TokenNotValid()
        BlacklistedToken.objects.get_or_create(token=outstanding)


# --- MFA (TOTP, RFC 6238) ------------------------------------------------------------------------


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret)


def _matching_counter(secret: str, otp: str, *, now: datetime) -> int | None:
    """The time step whose code `otp` is: the current one or the previous one (a code typed
    just before its 30 s ran out still counts), else None."""
    otp = otp.strip()
    if len(otp) != 6 or not otp.isascii() or not otp.isdigit():
        return None
    totp = _totp(secret)
    current = totp.timecode(now)
    for offset in (0, -1):
        if hmac.compare_digest(totp.at(now, counter_offset=offset), otp):
            return current + offset
    return None


def _use_otp(user: User, otp: str, *, now: datetime) -> bool:
    """True if `otp` is a good code not used before; marks its time step as used.

    Compare-and-set on `mfa_last_counter`: of two requests with one code, only one wins.
    """
    if not user.mfa_secret:
        return False
    counter = _matching_counter(user.mfa_secret, otp, now=now)
    if counter is None:
        return False
    claimed = (
        User.objects.filter(pk=user.pk)
        .filter(Q(mfa_last_counter__isnull=True) | Q(mfa_last_counter__lt=counter))
        .update(mfa_last_counter=counter)
    )
    if claimed != 1:
        return False
    user.mfa_last_counter = counter
    return True


def setup_mfa(*, user: User) -> tuple[str, str]:
    """Stores a new TOTP secret (not enabled until `enable_mfa`); returns (secret, otpauth url).
    409 `mfa_already_enabled` while MFA is on: replacing the secret would bypass it."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.mfa_enabled:
            raise MfaAlreadyEnabled("Disable MFA before setting it up.")
        secret = pyotp.random_base32()
        User.objects.filter(pk=user.pk).update(mfa_secret=secret, mfa_last_counter=None)
    user.mfa_secret, user.mfa_last_counter = secret, None
    return secret, otpauth_url(user=user)


def otpauth_url(*, user: User) -> str:
    """The otpauth:// URL of the user's TOTP secret (for a QR code)."""
    return _totp(user.mfa_secret).provisioning_uri(name=user.email, issuer_name=MFA_ISSUER)


def enable_mfa(*, user: User, otp: str) -> User:
    """Turns MFA on once the user proves the authenticator works. 400 `invalid_otp`;
    409 `mfa_not_set_up` before `setup_mfa`, 409 `mfa_already_enabled`."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.mfa_enabled:
            raise MfaAlreadyEnabled()
        if not locked.mfa_secret:
            raise MfaNotSetUp()
        if not _use_otp(locked, otp, now=timezone.now()):
            raise InvalidOtp()
        locked.mfa_enabled = True
        locked.save(update_fields=["mfa_enabled"])
    return locked


def disable_mfa(*, user: User, otp: str) -> User:
    """Turns MFA off and forgets the secret. 400 `invalid_otp`; 409 `mfa_not_enabled`."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if not locked.mfa_enabled:
            raise MfaNotEnabled()
        if not _use_otp(locked, otp, now=timezone.now()):
            raise InvalidOtp()
        locked.mfa_enabled = False
        locked.mfa_secret = ""
        locked.mfa_last_counter = None
        locked.save(update_fields=["mfa_enabled", "mfa_secret", "mfa_last_counter"])
    return locked


# --- Profile -----------------------------------------------------------------------------------


def update_account(*, user: User, name: str, phone: str) -> User:
    """Changes the account's name and phone (already validated: the form or serializer
    checked them). A consultant's new name reaches discovery's search through the post-save
    receiver of the consultants app."""
    user.name = name
    user.phone = phone
    user.save(update_fields=["name", "phone"])
    return user
