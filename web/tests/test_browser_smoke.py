import pytest

from accounts.tests.factories import ClientFactory


@pytest.mark.browser
def test_the_home_page_renders_in_a_real_browser(live_site, page):
    page.goto(live_site.url_for("/"))
    assert page.title().endswith("· Consult")
    assert page.get_by_role("link", name="Log in").is_visible()


@pytest.mark.browser
def test_a_signed_in_visitor_sees_log_out(live_site, page, sign_in):
    sign_in(page, ClientFactory())
    page.goto(live_site.url_for("/"))
    assert page.get_by_role("button", name="Log out").is_visible()
