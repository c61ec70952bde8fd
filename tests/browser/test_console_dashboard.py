"""Dashboard in headless Chromium: real figures at 768 and 1280 px with no horizontal scroll, and the
live figures update after a fill without a page reload (htmx poll)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _no_horizontal_scroll(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_dashboard_figures_update_after_a_fill_without_reload(page, live_server, make_user, console_market, guide_img):
    from orders.gateway import order_place
    from orders.models import AccountSnapshot
    from orders.reconcile import account_snapshot_record
    from trading_site.lib import clock

    operator = make_user("olivia", "operator")
    AccountSnapshot.objects.create(time=clock.now() - dt.timedelta(days=1), cash=Decimal("99500"),
                                   equity=Decimal("99500"), buying_power=Decimal("99500"), broker="simulated")
    account_snapshot_record()  # 100,000 cash, nothing held
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, live_server, "olivia")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("#fig-equity .value").inner_text() == "100,000.00"
    assert page.locator("#fig-day-pnl .value").inner_text() == "+500.00"
    page.wait_for_function("document.querySelector('[data-chart=\"chart-equity\"]').uplot", timeout=5000)
    assert page.locator("#equity-curve .u-axis").count() >= 2
    assert page.locator("#positions").inner_text().endswith("No open positions.")
    page.evaluate("window.__notReloaded = true")
    # when a fill happens elsewhere (another operator, a strategy, the API)
    order_place(symbol="AAPL", side="buy", qty="10", source="api", actor=operator, reason="browser test")
    # then the positions and P&L appear within a few seconds, on the same page
    row = page.locator('#positions tr[data-symbol="AAPL"]')
    row.wait_for(state="visible", timeout=8000)
    assert row.inner_text().split("\t")[:5] == ["AAPL", "10", "100.00", "100.00", "1,000.00"]
    assert page.evaluate("window.__notReloaded") is True
    assert _no_horizontal_scroll(page) <= 0
    page.screenshot(path=str(guide_img / "dashboard-1280.png"), full_page=True)
    page.set_viewport_size({"width": 768, "height": 1000})
    page.reload()
    assert page.locator("#fig-equity .value").inner_text() == "100,000.00"
    assert _no_horizontal_scroll(page) <= 0, "horizontal scroll at 768 px"
    page.screenshot(path=str(guide_img / "dashboard-768.png"), full_page=True)


@pytest.mark.parametrize("width", [768, 1280])
def test_every_page_fits_without_horizontal_scroll(page, live_server, make_user, console_market, width, guide_img):
    from orders.gateway import order_place
    from strategies.services import strategy_create

    admin = make_user("ada", "admin")
    order_place(symbol="MSFT", side="buy", qty="3", source="manual", actor=admin, reason="seed")
    resting = order_place(symbol="MSFT", side="buy", qty="2", source="manual", order_type="limit", limit_price="199",
                           actor=admin, reason="a resting bid, so the cancel controls are on the page").order
    assert resting.status == "accepted"
    strategy_create(actor=admin, name="trend", kind="sma_crossover", parameters={"fast": 10, "slow": 40},
                    symbols=["AAPL", "MSFT"], reason="seed")
    page.set_viewport_size({"width": width, "height": 900})
    login(page, live_server, "ada")
    page.wait_for_url(f"{live_server.url}/")
    for path in ("/orders/", "/orders/new/", "/strategies/", "/runs/", "/risk/", "/audit/", "/compliance/"):
        page.goto(f"{live_server.url}{path}")
        assert page.locator("h1").count() == 1, path
        assert _no_horizontal_scroll(page) <= 0, f"horizontal scroll on {path} at {width}px"
        if width == 1280 and path == "/compliance/":  # strategies.png: test_console_strategies.py, with its charts
            page.screenshot(path=str(guide_img / f"{path.strip('/')}.png"), full_page=True)
