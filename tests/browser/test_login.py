"""Log in through the real login page in headless Chromium and see the dashboard shell."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [768, 1280])
def test_login_reaches_dashboard_without_horizontal_scroll(page, live_server, make_user, width, screenshot_dir):
    make_user("olivia", "operator")
    page.set_viewport_size({"width": width, "height": 900})
    login(page, live_server, "olivia")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "Dashboard"
    assert page.locator(".who .user").inner_text().startswith("olivia")
    assert page.locator("#platform-health").is_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"horizontal scroll of {overflow}px at {width}px"
    page.screenshot(path=str(screenshot_dir / f"dashboard-{width}.png"), full_page=True)


def test_wrong_password_stays_on_login(page, live_server, make_user):
    make_user("olivia", "operator")
    login(page, live_server, "olivia", password="wrong-password")
    assert "/accounts/login/" in page.url
    assert page.get_by_text("The username and/or password you specified are not correct").is_visible()


def test_logout_returns_to_login(page, live_server, make_user):
    make_user("olivia", "viewer")
    login(page, live_server, "olivia")
    page.wait_for_url(f"{live_server.url}/")
    page.click("text=Log out")
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
