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
