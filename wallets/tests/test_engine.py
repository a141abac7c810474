"""The posting engine's fast path (server-side binary binding) and its fallback."""

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from wallets import services

pytestmark = pytest.mark.django_db


def test_array_cursor_binds_on_the_server_in_binary():
    """Fails loudly if a Django or psycopg upgrade takes away what the fast path uses (the
    engine would still work, on the slower fallback: see the next test)."""
    with CaptureQueriesContext(connection) as queries, services.array_cursor() as cursor:
        raw = cursor.cursor
        assert type(raw) is psycopg.Cursor, f"fell back to {type(raw)}"
        cursor.execute("SELECT %b::bigint[]", [[1, 2, 3]])
        assert cursor.fetchone()[0] == [1, 2, 3]
    assert any("SELECT" in q["sql"] for q in queries)  # Django's wrapper saw it


def test_the_fallback_gives_the_same_answers(monkeypatch, caplog):
    monkeypatch.setattr(psycopg, "Cursor", None)  # as if the API were gone
    monkeypatch.setattr(services, "_fallback_logged", False)
    with services.array_cursor() as cursor:
        cursor.execute("SELECT %b::bigint[], %b::text", [[1, 2, 3], "x"])
        assert cursor.fetchone() == ([1, 2, 3], "x")
    assert "binding on the client" in caplog.text
