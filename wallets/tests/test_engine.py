"""The posting engine's fast path (server-side binary binding, packed arrays) and its fallback."""

import struct
import uuid

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from wallets import services
from wallets.arrays import BigintArray, UuidArray

pytestmark = pytest.mark.django_db


def test_array_cursor_binds_on_the_server_in_binary():
    """Fails loudly if a Django or psycopg upgrade takes away what the fast path uses (the
    engine would still work, on the slower fallback: see the next test)."""
    with CaptureQueriesContext(connection) as queries, services.array_cursor() as cursor:
        raw = cursor.cursor
        assert type(raw) is psycopg.Cursor, f"fell back to {type(raw)}"
        for kind in (BigintArray, UuidArray):  # packed in one call, not element by element
            dumper = raw.adapters.get_dumper(kind, psycopg.adapt.PyFormat.BINARY)
            assert dumper.__module__ == "wallets.arrays"
        cursor.execute("SELECT %b::bigint[]", [[1, 2, 3]])
        assert cursor.fetchone()[0] == [1, 2, 3]
    assert any("SELECT" in q["sql"] for q in queries)  # Django's wrapper saw it


def test_the_fallback_gives_the_same_answers(monkeypatch, caplog):
    monkeypatch.setattr(psycopg, "Cursor", None)  # as if the API were gone
    monkeypatch.setattr(services, "_fallback_logged", False)
    u = uuid.uuid4()
    with services.array_cursor() as cursor:
        cursor.execute("SELECT %b::bigint[], %b::text", [[1, 2, 3], "x"])
        assert cursor.fetchone() == ([1, 2, 3], "x")
        cursor.execute(
            "SELECT %b::bigint[], %b::uuid[]", [BigintArray([-1, 2]), UuidArray([u, u.int])]
        )
        assert cursor.fetchone() == ([-1, 2], [u, u])
    assert "binding on the client" in caplog.text


BIGINTS = [0, 1, -1, 2**63 - 1, -(2**63), 10_000_000, -42]
UUIDS = [uuid.uuid4() for _ in range(5)] + [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)]


@pytest.mark.parametrize("values", [BIGINTS, BIGINTS[:1], []])
def test_a_bigint_array_arrives_as_psycopgs_own_list_would(values):
    with services.array_cursor(binary_results=True) as cursor:
        cursor.execute(
            "SELECT %b::bigint[], %b::bigint[] = %b::bigint[], "
            "cardinality(%b::bigint[]), array_ndims(%b::bigint[])",
            [
                BigintArray(values),
                BigintArray(values),
                list(values),
                BigintArray(values),
                BigintArray(values),
            ],
        )
        got, equal, length, dimensions = cursor.fetchone()
    assert got == values and equal and length == len(values)
    assert dimensions == (1 if values else None)


@pytest.mark.parametrize("values", [UUIDS, UUIDS[:1], []])
def test_a_uuid_array_of_uuids_or_their_ints_arrives_as_psycopgs_own_list_would(values):
    as_ints = UuidArray([u.int for u in values])
    mixed = UuidArray([u if i % 2 else u.int for i, u in enumerate(values)])
    with services.array_cursor(binary_results=True) as cursor:
        cursor.execute(
            "SELECT %b::uuid[], %b::uuid[], %b::uuid[] = %b::uuid[], cardinality(%b::uuid[])",
            [UuidArray(values), as_ints, mixed, list(values), mixed],
        )
        got, got_from_ints, equal, length = cursor.fetchone()
    assert got == values and got_from_ints == values and equal and length == len(values)


def test_a_packed_array_refuses_null_rather_than_sending_it():
    with services.array_cursor() as cursor:
        with pytest.raises((struct.error, TypeError)):
            cursor.execute("SELECT %b::bigint[]", [BigintArray([1, None])])
    with services.array_cursor() as cursor:
        with pytest.raises((AttributeError, TypeError)):
            cursor.execute("SELECT %b::uuid[]", [UuidArray([uuid.uuid4(), None])])


def test_the_entries_ids_grow_with_time_and_position():
    ids = services.ordered_uuids(3)
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in ids)
