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
