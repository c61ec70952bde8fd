"""Operator actions in headless Chromium: the manual order with its confirmation step and reason, the
kill switch (engage by an operator, reset by an admin) and what a viewer may not do."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import csrf_post, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _order_form(page, live_server, *, symbol="AAPL", qty="10"):
    page.goto(f"{live_server.url}/orders/new/")
    page.fill('input[name="symbol"]', symbol)
    page.select_option('select[name="side"]', "buy")
    page.fill('input[name="qty"]', qty)
    page.select_option('select[name="order_type"]', "market")
    page.click("text=Review order")
    page.wait_for_selector("h1:has-text('Confirm order')")


def test_manual_order_form_confirmation_orders_and_audit(page, live_server, make_user, console_market, guide_img):
    from orders.models import Order

    make_user("olivia", "operator")
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, live_server, "olivia")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/orders/new/")
    page.screenshot(path=str(guide_img / "order-form.png"), full_page=True)
    _order_form(page, live_server)
    assert page.locator("#est-notional").inner_text() == "1,000.00"
    # a dated quote and the resulting position before confirming (issue 21)
    assert page.locator("#quote-session").get_attribute("datetime")  # the quote's bar date
    assert "quoted" in page.locator("#quote").inner_text()
    assert page.locator("#position-after").inner_text() == "0 → 10 AAPL"
    assert "Risk controls: passed" in page.locator("#pretrade-checks").inner_text()
    assert page.locator("#wash-sale").inner_text() == "No wash sale."
    page.screenshot(path=str(guide_img / "order-confirm.png"), full_page=True)
    # without a reason the order is refused
    page.click("button:has-text('Confirm order')")
    assert page.locator(".error", has_text="A reason is required.").is_visible()
    assert Order.objects.count() == 0
    # with a reason it goes through the gateway
    page.fill('input[name="reason"]', "hedge before the announcement")
    page.click("button:has-text('Confirm order')")
    page.wait_for_url(f"{live_server.url}/orders/?symbol=AAPL")
    order = Order.objects.get()
    row = page.locator(f"#order-{order.pk}")
    # accepted first; the fill arrives over the trade stream and the live table shows it without a reload
    expect(row).to_contain_text("filled", timeout=10000)
    assert "BUY 10 AAPL" in row.inner_text() and "filled" in row.inner_text()
    assert "hedge before the announcement" in row.inner_text()
    page.screenshot(path=str(guide_img / "orders.png"), full_page=True)
    page.goto(f"{live_server.url}/audit/?action=order.manual")
    audit = page.locator('.audit-row[data-action="order.manual"]')
    assert audit.count() == 1
    assert audit.locator(".actor").inner_text() == "olivia"
    assert audit.locator(".reason").inner_text() == "hedge before the announcement"
    page.screenshot(path=str(guide_img / "audit.png"), full_page=True)


def test_kill_switch_blocks_orders_operator_cannot_reset_admin_can(browser, live_server, make_user, console_market,
                                                                   guide_img):
    make_user("olivia", "operator")
    make_user("ada", "admin")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, live_server, "olivia")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/risk/")
    page.fill('#engage-form input[name="reason"]', "strategy misbehaving")
    page.fill('#engage-form input[name="confirm"]', "ENGAGE")
    page.click("button:has-text('Engage kill switch')")
    page.wait_for_selector("#kill-switch-status:has-text('ENGAGED')")
    assert page.locator("text=Reset kill switch").count() == 0
    page.screenshot(path=str(guide_img / "risk-engaged.png"), full_page=True)
    response = csrf_post(page, f"{live_server.url}/risk/kill-switch/reset/", {"reason": "let me"})
    assert response.status == 403
    # the next manual order fails visibly
    _order_form(page, live_server)
    page.fill('input[name="reason"]', "try anyway")
    page.click("button:has-text('Confirm order')")
    rejection = page.locator("#order-rejection")
    assert rejection.is_visible() and "KILL_SWITCH_ENGAGED" in rejection.inner_text()
    page.close()
    # an admin resets it
    admin = browser.new_page(viewport={"width": 1280, "height": 900})
    login(admin, live_server, "ada")
    admin.wait_for_url(f"{live_server.url}/")
    admin.goto(f"{live_server.url}/risk/")
    admin.fill('#reset-form input[name="reason"]', "root cause fixed")
    admin.click("button:has-text('Reset kill switch')")
    admin.wait_for_selector("#kill-switch-status:has-text('off')")
    admin.goto(f"{live_server.url}/audit/?action=kill_switch.")
    rows = admin.locator(".audit-row")
    assert [(rows.nth(i).locator(".actor").inner_text(), rows.nth(i).locator(".reason").inner_text())
            for i in range(rows.count())] == [("ada", "root cause fixed"), ("olivia", "strategy misbehaving")]
    admin.close()


def test_viewer_sees_no_action_controls_and_posts_are_refused(page, live_server, make_user, console_market):
    from orders.models import Order
    from trading_site.models import ActionLog

    make_user("victor", "viewer")
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, live_server, "victor")
    page.wait_for_url(f"{live_server.url}/")
    for path in ("/", "/orders/", "/strategies/", "/risk/", "/audit/", "/compliance/"):
        page.goto(f"{live_server.url}{path}")
        assert page.locator('input[name="reason"]').count() == 0, path
        assert page.locator("form[method=post] button").all_inner_texts() == ["Log out"], path
    assert "New order" not in page.locator("nav").inner_text()
    for url in ("/orders/confirm/", "/orders/cancel-all/", "/risk/kill-switch/engage/", "/risk/kill-switch/reset/"):
        assert csrf_post(page, f"{live_server.url}{url}", {"reason": "r", "confirm": "ENGAGE"}).status == 403, url
    assert Order.objects.count() == 0 and ActionLog.objects.count() == 0
