"""Every page of UI.md carries the Content-Security-Policy (config/csp.py), the Django admin
too; a browser loading them finds no violation (web/tests/test_browser_pages.py)."""

import pytest

from accounts.tests.factories import AdminFactory
from config.csp import HEADER
from web.tests.test_browser_pages import PAGES
from web.tests.test_browser_pages import people as people  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("path", "who"), PAGES)
def test_every_page_carries_the_policy(client, people, path, who):  # noqa: F811 - the fixture
    if who:
        client.force_login(people[who])
    answer = client.get(path.format(**people["ids"]))
    assert answer.status_code in (200, 302, 404)
    assert answer["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in answer[HEADER]


def test_the_admin_carries_it(client):
    client.force_login(AdminFactory())
    assert "frame-ancestors 'none'" in client.get("/admin/")[HEADER]
