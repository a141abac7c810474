"""/api/docs/ works offline: Swagger UI's files come from the platform itself
(drf-spectacular-sidecar), never from a CDN."""

import re

import pytest

pytestmark = pytest.mark.django_db


def test_the_docs_page_loads_nothing_from_another_host(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page)
    assert urls, page[:500]
    for url in urls:
        assert url.startswith("/"), f"{url} is loaded from another host"
        assert not url.startswith("//")
    assert "cdn" not in page.lower()


def test_the_swagger_ui_files_it_names_are_served(client):
    page = client.get("/api/docs/").content.decode()
    scripts = re.findall(r"""src\s*=\s*["'](/static/[^"']+\.js)["']""", page)
    assert any("swagger-ui" in path for path in scripts)
    for path in scripts:
        response = client.get(path)
        assert response.status_code == 200, path
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert len(body) > 1000
