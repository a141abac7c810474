"""Settings: a bad value stops the start-up (production's refusals: test_deploy.py)."""

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("reader", "value", "says"),
    [
        (lambda: env.env_bool("X_TEST", False), "maybe", "X_TEST='maybe' is not a boolean"),
        (lambda: env.env_int("X_TEST", 1), "ten", "X_TEST='ten' is not an integer"),
        (lambda: env.env_int("X_TEST", 1, minimum=5), "2", "below its minimum"),
        (lambda: env.env_rate("X_TEST", "1/min"), "lots", "is not a rate"),
        (lambda: env.env_url("X_TEST", {"postgres"}), "mysql://db/x", "must be a postgres URL"),
    ],
)
def test_a_bad_value_fails_loudly_naming_the_variable(monkeypatch, reader, value, says):
    monkeypatch.setenv("X_TEST", value)
    with pytest.raises(ImproperlyConfigured, match=says):
        reader()


def test_unset_or_empty_values_take_the_default(monkeypatch):
    monkeypatch.setenv("X_TEST", "  ")
    assert env.env_int("X_TEST", 7) == 7
    assert env.env_list("X_TEST", ["a"]) == ["a"]
    monkeypatch.setenv("X_TEST", "a, b,,c")
    assert env.env_list("X_TEST", []) == ["a", "b", "c"]
