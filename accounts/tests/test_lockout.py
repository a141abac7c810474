import threading

import pytest

from accounts import lockout


def test_concurrent_failures_are_each_counted_once(settings):
    settings.LOGIN_MAX_FAILURES = 100
    barrier = threading.Barrier(20)
    counts: list[int] = []

    def fail():
        barrier.wait(timeout=10)
        counts.append(lockout.record_failure("asha@example.com"))

    threads = [threading.Thread(target=fail) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(counts) == list(range(1, 21))


def test_reaching_the_limit_locks_and_starts_the_next_count_afresh(settings):
    settings.LOGIN_MAX_FAILURES = 3
    assert [lockout.record_failure("a@example.com") for _ in range(3)] == [1, 2, 3]
    assert lockout.locked_until("a@example.com") is not None
    assert lockout.record_failure("a@example.com") == 1


@pytest.mark.parametrize("email", ["x" * 300 + "@example.com", "spaces and\nnewlines", "é@ü.in"])
def test_any_email_makes_a_valid_cache_key(email):
    assert lockout.record_failure(email) == 1
    assert lockout.locked_until(email) is None
