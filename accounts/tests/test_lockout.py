import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from accounts import lockout, services
from accounts.tests.factories import PASSWORD
from config.errors import ApiError

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def in_threads(count, target):
    barrier = threading.Barrier(count)
    results: list = []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(target())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_failures_are_each_counted_once(settings):
    settings.LOGIN_MAX_FAILURES = 100
    counts = in_threads(20, lambda: lockout.record_failure("asha@example.com"))
    assert sorted(counts) == list(range(1, 21))


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_concurrent_guesses_gets_no_more_than_five_checked():
    def guess():
        try:
            services.login(email="asha@example.com", password="guess")
        except ApiError as error:
            return error.status_code
        return 200

    statuses = in_threads(12, guess)
    assert sorted(statuses) == [401] * 5 + [423] * 7
    assert lockout.locked_until(lockout.key_for(email="asha@example.com")) is not None


def test_the_failure_reaching_the_limit_locks_until_the_window_ends(settings):
    settings.LOGIN_MAX_FAILURES = 3
    assert [lockout.record_failure("a@example.com", now=START) for _ in range(3)] == [1, 2, 3]
    assert lockout.locked_until("a@example.com", now=START) == START + timedelta(minutes=15)
    with pytest.raises(lockout.AccountLocked):
        lockout.start_attempt("a@example.com", now=START + timedelta(minutes=14))


def test_after_the_lock_the_count_starts_afresh(settings):
    settings.LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        lockout.record_failure("a@example.com", now=START)
    later = START + timedelta(minutes=15)
    assert lockout.locked_until("a@example.com", now=later) is None
    assert lockout.record_failure("a@example.com", now=later) == 1


def test_a_right_password_awaiting_its_code_is_not_counted(settings):
    settings.LOGIN_MAX_FAILURES = 3
    lockout.record_failure("a@example.com", now=START)
    lockout.start_attempt("a@example.com", now=START).not_a_failure()
    assert lockout.record_failure("a@example.com", now=START) == 2


@pytest.mark.parametrize("email", ["x" * 300 + "@example.com", "spaces and\nnewlines", "é@ü.in"])
def test_any_email_makes_a_valid_cache_key(email):
    assert lockout.record_failure(email) == 1
    assert lockout.locked_until(email) is None


@pytest.mark.django_db
def test_an_mfa_required_answer_does_not_help_to_guess_codes(mfa_user):
    # Wrong codes count; asking for "mfa_required" in between neither counts nor forgives.
    for _ in range(4):
        with pytest.raises(ApiError, match="code is wrong"):
            services.login(email="meera@example.com", password=PASSWORD, otp="000000")
        with pytest.raises(ApiError, match="needs a one-time code"):
            services.login(email="meera@example.com", password=PASSWORD)
    with pytest.raises(ApiError, match="code is wrong"):
        services.login(email="meera@example.com", password=PASSWORD, otp="000000")
    with pytest.raises(ApiError) as locked:
        services.login(email="meera@example.com", password=PASSWORD, otp=mfa_user.totp.now())
    assert locked.value.status_code == 423
