"""Shared fixtures. The environment the settings need is set by config/testenv.py."""

import pytest


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (lockout counters, locks, throttles)."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def api():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    """Argon2 still, but with a few KiB and one pass instead of 100 MiB: the hashes tests
    make are checked for their algorithm, not their cost."""
    from django.contrib.auth.hashers import Argon2PasswordHasher

    monkeypatch.setattr(Argon2PasswordHasher, "time_cost", 1)
    monkeypatch.setattr(Argon2PasswordHasher, "memory_cost", 64)
    monkeypatch.setattr(Argon2PasswordHasher, "parallelism", 1)


@pytest.fixture(autouse=True)
def _seeded_categories(request):
    """The five categories a data migration seeds, present in every database test.

    A transactional test (`transaction=True`, the race tests) ends with a flush of every table,
    which takes migration-seeded rows with it for the tests that run after it on the same
    worker. Re-seeding here (get_or_create, so a no-op normally) keeps every test starting from
    what `migrate` makes.
    """
    if request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("_django_db_helper")
    from importlib import import_module

    from django.apps import apps

    import_module("consultants.migrations.0002_seed_categories").seed(apps, None)


@pytest.fixture(autouse=True)
def _books_balance_after_every_test(request):
    """After every database test, the ledger must still reconcile (`check_ledger`, the same
    checks as `manage.py reconcile_ledger`): whatever a test did through the services, the
    books it leaves behind are clean. Tests that corrupt the books on purpose say so with
    `@pytest.mark.ledger_corrupted`."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or request.node.get_closest_marker("ledger_corrupted"):
        yield
        return
    request.getfixturevalue("_django_db_helper")
    yield
    from django.db import connection

    if connection.needs_rollback or not connection.is_usable():
        return  # the test's own transaction is broken; its assertions say why
    from wallets.reconcile import check_ledger

    report = check_ledger()
    assert report.clean, "the books do not reconcile after this test:\n" + "\n".join(
        report.violations
    )


# Browser tests (Playwright + a live ASGI server): web/testing.py. Every frame the server sends
# is checked against the AsyncAPI document: chat/testing.py.
pytest_plugins = ["web.testing", "chat.testing"]


@pytest.fixture(autouse=True)
def _python_clock(request):
    """The platform's clock is the database's (config/clock.py); time_machine moves Python's.
    Tests follow Python's clock unless marked `database_clock`."""
    if request.node.get_closest_marker("database_clock"):
        yield
        return
    from config import clock

    with clock.use_python_clock():
        yield


@pytest.fixture(autouse=True)
def _participants_connected_at_acceptance(request, monkeypatch):
    """A participant without a live socket when a consultation is accepted counts as gone from
    that moment (CONTRACT.md). Most tests accept through the services with no socket and are
    about something else: there both count as connected. Tests of the presence rules are
    marked `real_presence`."""
    if request.node.get_closest_marker("real_presence"):
        return
    from consultations import presence

    monkeypatch.setattr(presence, "connected_at_acceptance", lambda user_ids: set(user_ids))
