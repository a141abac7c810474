"""The idempotency keys of the money paths: one module builds them, and no two kinds collide."""

import ast
import inspect
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallets import keys

ROOT = Path(__file__).resolve().parents[2]

BUILDERS = {
    name: fn
    for name, fn in inspect.getmembers(keys, inspect.isfunction)
    if fn.__module__ == keys.__name__ and not name.startswith("_")
    if name not in {"scoped", "unique", "kind_of"}
}

part = st.one_of(
    st.uuids().map(str),
    st.integers(0, 10**12).map(str),
    st.text(
        st.characters(blacklist_characters=":", blacklist_categories=["Cs"]), min_size=1
    ).filter(lambda t: len(t) < 40),
)


def build(name, parts):
    fn = BUILDERS[name]
    arity = len(inspect.signature(fn).parameters)
    if name == "adjustment":
        return fn(*parts)
    if name == "consultation_charge":
        return fn(parts[0], len(parts[1]))
    return fn(*parts[:arity])


def test_every_kind_has_exactly_one_builder():
    kinds = {}
    for name in BUILDERS:
        kinds.setdefault(keys.kind_of(build(name, ["a", "b", "c"])), []).append(name)
    assert set(kinds) == set(keys.KINDS)
    assert all(len(names) == 1 for names in kinds.values()), kinds


@given(
    first=st.sampled_from(sorted(BUILDERS)),
    second=st.sampled_from(sorted(BUILDERS)),
    parts_a=st.lists(part, min_size=3, max_size=3),
    parts_b=st.lists(part, min_size=3, max_size=3),
)
def test_keys_of_two_kinds_never_collide(first, second, parts_a, parts_b):
    a, b = build(first, parts_a), build(second, parts_b)
    if first != second:
        assert a != b
    assert keys.kind_of(a) == keys.kind_of(build(first, ["x", "y", "z"]))


@pytest.mark.parametrize("bad", ["", "a:b"])
def test_a_part_with_a_colon_or_empty_is_refused(bad):
    with pytest.raises(ValueError):
        keys.recharge(bad)


def test_outside_input_is_scoped_to_its_sender():
    key = "retry-1:with:colons"
    assert keys.scoped("admin-a", key) != keys.scoped("admin-b", key)
    assert keys.scoped("admin-a", key) == keys.scoped("admin-a", key)
    assert ":" not in keys.scoped("admin-a", key)
    assert keys.payout_hold(uuid.uuid4(), keys.scoped("x", key)).startswith("payout-hold:")


def test_no_code_outside_the_keys_module_writes_a_key_by_hand():
    offenders = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in {".venv", "bench"} or "tests" in rel.parts or "migrations" in rel.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.keyword) and node.arg == "idempotency_key":
                if isinstance(node.value, ast.JoinedStr | ast.Constant | ast.BinOp):
                    offenders.append(f"{rel}:{node.value.lineno}")
    assert not offenders, "build keys with wallets.keys: " + ", ".join(offenders)


@given(
    consultation=st.one_of(st.uuids(), part, st.text(max_size=300)),
    seconds=st.integers(-10, 10**12),
)
def test_a_charge_key_is_what_the_general_builder_makes(consultation, seconds):
    """`consultation_charge` checks its parts inline (the tick's hot path): the same keys, the
    same refusals."""
    try:
        expected = keys._key("charge", consultation, seconds)
    except ValueError:
        with pytest.raises(ValueError):
            keys.consultation_charge(consultation, seconds)
        return
    assert keys.consultation_charge(consultation, seconds) == expected
