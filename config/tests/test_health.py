import pytest
from django.core.cache import cache

pytestmark = pytest.mark.django_db


def test_it_reports_every_part_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "cache": "ok",
        "channel_layer": "ok",
    }


def test_it_answers_503_naming_the_failing_part(client, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("down")

    monkeypatch.setattr(cache, "set", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["cache"].startswith("error")
    assert body["database"] == "ok"


def test_it_refuses_other_methods(client):
    assert client.post("/healthz").status_code == 405
