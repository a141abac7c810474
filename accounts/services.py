"""Accounts: registration, login (lockout, MFA), token rotation, logout, MFA set-up, and the
end of every session of a user.

Every function here is keyword-only and raises the contract's errors (`accounts/errors.py`).
The ones a sign-in form of any kind calls (`authenticate`, `authenticate_second_factor`,
`login`, the MFA ones) take the client's address from `config.clientip.client_ip(request)` as
`client_ip`, for the lockout's log.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import pyotp
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
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
from accounts.models import Role, User, normalize_email
from accounts.signals import user_registered
from accounts.tokens import TokenPair, decode_refresh, issue_tokens, session_ends_at
from config.errors import Invalid
from config.events import close_user_sockets

logger = logging.getLogger(__name__)

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
    email = normalize_email(email)
    if User.objects.filter(email=email).exists():
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
        if User.objects.filter(email=email).exists():
            raise EmailTaken() from None
        raise
    return user


# --- Login ---------------------------------------------------------------------------------------


def _locked(until: datetime) -> AccountLocked:
    when = until.isoformat().replace("+00:00", "Z")
    error = AccountLocked(f"Too many failed logins. Try again after {when}.")
    error.until = until  # the pages say it in the viewer's zone
    return error


def authenticate(
    *, email: str, password: str, otp: str | None = None, client_ip: str | None = None
) -> User:
    """Checks the credentials (and the one-time code when MFA is on): every rule of a login,
    for the API (`login`, which issues tokens), the pages (a Django session) and the Django
    admin (`accounts.forms.StaffLoginForm`, `accounts.backends.AccountBackend`) alike.

    401 `invalid_credentials`, 401 `mfa_required` (MFA on and no code; not a failure),
    401 `invalid_otp` (a failure), 423 `account_locked` (see `accounts.lockout`: the attempt is
    counted before the password is checked, so concurrent guesses cannot pass the limit).
    The email is normalised once (`normalize_email`) for the lookup and the lockout's key, which
    is the user when there is one. An unknown email costs a password hash like a known one and
    is counted like one.
    """
    now = timezone.now()
    email = normalize_email(email)
    user = User.objects.filter(email=email).first()
    try:
        attempt = lockout.start_attempt(
            lockout.key_for(user=user, email=email), now=now, client_ip=client_ip
        )
    except lockout.AccountLocked as locked:
        raise _locked(locked.until) from None

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


def authenticate_second_factor(*, user_id, otp: str, client_ip: str | None = None) -> User:
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
        attempt = lockout.start_attempt(lockout.key_for(user=user), now=now, client_ip=client_ip)
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


def login(
    *, email: str, password: str, otp: str | None = None, client_ip: str | None = None
) -> tuple[User, TokenPair]:
    """`authenticate`, then a fresh pair of tokens (the API's login): a new token family."""
    user = authenticate(email=email, password=password, otp=otp, client_ip=client_ip)
    return user, issue_tokens(user)


# --- Tokens --------------------------------------------------------------------------------------


def refresh_tokens(*, refresh: str) -> TokenPair:
    """Rotates a refresh token: the given one is blacklisted and the next token of its family
    is issued, with the user's current role. 401 `token_not_valid` for a bad, expired, used or
    logged-out token, one whose user is gone or deactivated, or one whose sign-in is older
    than `JWT_SESSION_MAX_DAYS`.

    A token that was already used (or logged out) kills its family: every refresh token issued
    from it since is blacklisted, so a thief who refreshed with a copy and the owner both have
    to sign in again (CONTRACT.md "Accounts"). The kill is committed before the 401 answers.

    Exactly one of many concurrent refreshes of one token succeeds: the token's
    `OutstandingToken` row is locked (`select_for_update`) before the blacklist is checked and
    written, and the blacklist's unique token column backs that up. (The losers of such a race
    are reuses too, and kill the winner's new token: a client must not refresh one token twice.)
    """
    try:
        jti, user_id = decode_refresh(refresh)
    except TokenError as exc:
        raise TokenNotValid(str(exc)) from None
    now = timezone.now()
    try:
        with transaction.atomic():
            outstanding = (
                # of=self: the lineage join is an outer one; only the token row is locked.
                OutstandingToken.objects.select_for_update(of=("self",))
                .select_related("lineage")
                .filter(jti=jti)
                .first()
            )
            if outstanding is None or outstanding.user_id != user_id:
                raise TokenNotValid()
            lineage = getattr(outstanding, "lineage", None)
            if lineage is None:
                raise TokenNotValid("Token is from before token families: sign in again.")
            reused = BlacklistedToken.objects.filter(token=outstanding).exists()
            if reused:
                killed = _revoke(
                    OutstandingToken.objects.filter(lineage__family=lineage.family), now=now
                )
            else:
                if now >= session_ends_at(lineage.signed_in_at):
                    raise TokenNotValid("The session is over: sign in again.")
                user = User.objects.filter(pk=user_id, is_active=True).first()
                if user is None:
                    raise TokenNotValid("No active account for this token.")
                BlacklistedToken.objects.create(token=outstanding)
                return issue_tokens(user, family=lineage.family, signed_in_at=lineage.signed_in_at)
    except IntegrityError:
        raise TokenNotValid("Token is blacklisted.") from None
    # Outside the transaction: the family's kill is committed.
    logger.warning(
        "refresh token reused: family %s of user %s revoked (%s live tokens)",
        lineage.family,
        user_id,
        killed,
    )
    raise TokenNotValid("Token is blacklisted.")


def _revoke(tokens, *, now: datetime) -> int:
    """Blacklists the live (unexpired, not yet blacklisted) tokens among `tokens`."""
    live = list(
        tokens.filter(expires_at__gt=now, blacklistedtoken__isnull=True).values_list(
            "pk", flat=True
        )
    )
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token_id=pk) for pk in live], ignore_conflicts=True
    )
    return len(live)


def end_sessions(*, user: User) -> int:
    """Ends every session of `user`: all their refresh tokens are revoked now (in the caller's
    transaction), and once it commits every socket of theirs is closed with 4401. Their access
    tokens die with the change that calls this: a deactivated user's are refused, and a new
    password's digest no longer matches the old tokens' (`CHECK_REVOKE_TOKEN`).

    Called by `User.save()` on a new password or a deactivation. Returns how many refresh
    tokens were still live.
    """
    revoked = _revoke(OutstandingToken.objects.filter(user_id=user.pk), now=timezone.now())
    close_user_sockets(user.pk)
    return revoked


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
        if BlacklistedToken.objects.filter(token=outstanding).exists():
            raise TokenNotValid("Token is blacklisted.")
        BlacklistedToken.objects.create(token=outstanding)


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


def _use_otp(user: User, otp: str, *, now: datetime, secret: str | None = None) -> bool:
    """True if `otp` is a good code (of `secret`, else the user's) not used before; marks its
    time step as used.

    Compare-and-set on `mfa_last_counter`: of two requests with one code, only one wins.
    """
    secret = secret or user.mfa_secret
    if not secret:
        return False
    counter = _matching_counter(secret, otp, now=now)
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


def _check_code(
    user: User, otp: str, *, secret: str | None = None, client_ip: str | None = None
) -> None:
    """A one-time code given by a signed-in user (`mfa/enable`, `mfa/disable`, a second
    `mfa/setup`). Counted like a login attempt on the user's lockout counter: a stolen access
    token cannot be used to guess codes. 423 `account_locked`, 400 `invalid_otp`."""
    now = timezone.now()
    try:
        attempt = lockout.start_attempt(lockout.key_for(user=user), now=now, client_ip=client_ip)
    except lockout.AccountLocked as locked:
        raise _locked(locked.until) from None
    if not _use_otp(user, otp, now=now, secret=secret):
        attempt.failed()
        raise InvalidOtp()
    # A right code proves the authenticator, not the password: the failures so far stay.
    attempt.not_a_failure()


def setup_mfa(
    *, user: User, otp: str | None = None, client_ip: str | None = None
) -> tuple[str, str]:
    """Makes a new TOTP secret; returns (secret, otpauth url).

    MFA off: the secret is stored and turned on by `enable_mfa`. MFA on (a new authenticator):
    the current code is needed (400 `invalid_otp` without it or when wrong, counted toward the
    lockout), and the new secret waits beside the current one until `enable_mfa` gets a code of
    it; until then the current authenticator keeps working.
    """
    secret = pyotp.random_base32()
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.mfa_enabled:
            if not otp:
                raise InvalidOtp("MFA is on: give the current code to set it up again.")
            _check_code(locked, otp, client_ip=client_ip)
            User.objects.filter(pk=user.pk).update(mfa_pending_secret=secret)
            user.mfa_pending_secret = secret
        else:
            User.objects.filter(pk=user.pk).update(
                mfa_secret=secret, mfa_pending_secret="", mfa_last_counter=None
            )
            user.mfa_secret, user.mfa_last_counter = secret, None
    return secret, _totp(secret).provisioning_uri(name=user.email, issuer_name=MFA_ISSUER)


def otpauth_url(*, user: User) -> str:
    """The otpauth:// URL of the user's TOTP secret (for a QR code)."""
    return _totp(user.mfa_secret).provisioning_uri(name=user.email, issuer_name=MFA_ISSUER)


def enable_mfa(*, user: User, otp: str, client_ip: str | None = None) -> User:
    """Turns MFA on once the user proves the authenticator works, or (MFA on, after a second
    `setup_mfa`) moves it to the new authenticator once a code of the new secret is given.
    400 `invalid_otp` (counted toward the lockout); 409 `mfa_not_set_up` before `setup_mfa`,
    409 `mfa_already_enabled` when there is nothing to confirm."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.mfa_enabled:
            if not locked.mfa_pending_secret:
                raise MfaAlreadyEnabled()
            _check_code(locked, otp, secret=locked.mfa_pending_secret, client_ip=client_ip)
            locked.mfa_secret, locked.mfa_pending_secret = locked.mfa_pending_secret, ""
            locked.save(update_fields=["mfa_secret", "mfa_pending_secret"])
            return locked
        if not locked.mfa_secret:
            raise MfaNotSetUp()
        _check_code(locked, otp, client_ip=client_ip)
        locked.mfa_enabled = True
        locked.save(update_fields=["mfa_enabled"])
    return locked


def disable_mfa(*, user: User, otp: str, client_ip: str | None = None) -> User:
    """Turns MFA off and forgets the secrets; needs the current code. 400 `invalid_otp`
    (counted toward the lockout), 423 `account_locked`; 409 `mfa_not_enabled`."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if not locked.mfa_enabled:
            raise MfaNotEnabled()
        _check_code(locked, otp, client_ip=client_ip)
        locked.mfa_enabled = False
        locked.mfa_secret = ""
        locked.mfa_pending_secret = ""
        locked.mfa_last_counter = None
        locked.save(
            update_fields=["mfa_enabled", "mfa_secret", "mfa_pending_secret", "mfa_last_counter"]
        )
    return locked


# --- Profile -----------------------------------------------------------------------------------


# The birth details a user has not sent (PATCH without `birth_details`): kept as they are.
UNCHANGED: Any = object()

EARLIEST_BIRTH_DATE = date(1900, 1, 1)


@dataclass(frozen=True)
class BirthDetails:
    """CONTRACT.md `birth_details`: a date, and a time and a place if known."""

    date: date
    time: time | None = None
    place: str | None = None


def birth_date_problem(value: date) -> str | None:
    """Why `value` cannot be a birth date (in the future, or before 1900), or None. "The future"
    starts after today's date where it is latest (UTC+14): a baby born today anywhere has a
    birth date that is not in the future, whatever zone the server reads the clock in."""
    latest_today = (timezone.now() + timedelta(hours=14)).date()
    if value > latest_today:
        return gettext("A birth date cannot be in the future.")
    if value < EARLIEST_BIRTH_DATE:
        return gettext("Enter a birth date from 1900 on.")
    return None


def update_account(
    *,
    user: User,
    name: str | None = None,
    phone: str | None = None,
    birth_details: BirthDetails | None = UNCHANGED,
) -> User:
    """Changes what is given of the account's name, phone and birth details (already validated:
    the form or serializer checked them; `birth_details=None` clears them). A consultant's new
    name reaches discovery's search through the post-save receiver of the consultants app."""
    fields = []
    if name is not None:
        user.name = name
        fields.append("name")
    if phone is not None:
        user.phone = phone
        fields.append("phone")
    if birth_details is not UNCHANGED:
        if birth_details is not None and birth_date_problem(birth_details.date):
            raise ValueError(birth_date_problem(birth_details.date))
        user.birth_date = birth_details.date if birth_details else None
        user.birth_time = birth_details.time if birth_details else None
        user.birth_place = (birth_details.place or "") if birth_details else ""
        fields += ["birth_date", "birth_time", "birth_place"]
    if fields:
        user.save(update_fields=fields)
    return user
