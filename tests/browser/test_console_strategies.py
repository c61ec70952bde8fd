"""The strategies page in headless Chromium (issue 21): the compact table of strategy figures at 768 and
1280 px, a symbol toggle from a row (with its reason, audited), and a viewer who sees no toggles."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest

from tests.browser.conftest import login, wait_filled
from tests.browser.test_console_charts import _charts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _no_horizontal_scroll(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def _history() -> list[dt.date]:
    """Five months of closes up to yesterday, AAPL rising into 100 and MSFT falling into 200 with a daily
    wiggle (ending on the market's prices, so the quotes stay): today's allocation preview has signals.
    Returns the sessions."""
    from marketdata.models import Asset, Bar
    from marketdata.quality import nyse_calendar
    from trading_site.lib import clock

    today = clock.today_ny()
    first_day, last_day = today - dt.timedelta(days=150), today - dt.timedelta(days=1)
    sessions = [s.date() for s in nyse_calendar().sessions_in_range(first_day, last_day)]
    n = len(sessions)
    bars = []
    for symbol, first, last in (("AAPL", 80, 100), ("MSFT", 230, 200)):
        asset = Asset.objects.get(symbol=symbol)
        for i, day in enumerate(sessions):
            wiggle = 2 * math.sin(i) if i < n - 1 else 0
            p = Decimal(first + (last - first) * i / (n - 1) + wiggle).quantize(Decimal("0.01"))
            bars.append(Bar(asset=asset, session=day, open=p, high=p, low=p, close=p))
    Bar.objects.bulk_create(bars)
    return sessions


def _book(admin):
    """Given the history, trend targeting AAPL alone and blend AAPL and MSFT half each in the signal runs
    of the last 30 sessions, and 6 AAPL and 2 MSFT held. Returns trend, blend and the last session."""
    from marketdata.models import Asset
    from orders.gateway import order_place
    from strategies.models import Signal
    from strategies.services import strategy_create
    from trading_site.lib import clock

    sessions = _history()
    trend = strategy_create(
        actor=admin,
        name="trend",
        kind="sma_crossover",
        parameters={"fast": 10, "slow": 40},
        symbols=["AAPL", "MSFT"],
        reason="seed",
    )
    blend = strategy_create(
        actor=admin,
        name="blend",
        kind="mean_reversion",
        parameters={"window": 20, "entry_z": 0.5},
        symbols=["AAPL", "MSFT"],
        reason="seed",
    )
    assets = dict(Asset.objects.values_list("symbol", "id"))
    weights = [(trend, "AAPL", "1"), (trend, "MSFT", "0"), (blend, "AAPL", "0.5"), (blend, "MSFT", "0.5")]
    Signal.objects.bulk_create(
        [
            Signal(
                run_id=f"rebalance-live-{day}",
                strategy=s,
                asset_id=assets[sym],
                session=day,
                target_weight=Decimal(w),
                created_at=clock.now() - dt.timedelta(days=len(sessions) - k),
            )
            for k, day in enumerate(sessions[-30:])
            for s, sym, w in weights
        ]
    )
    wait_filled(
        order_place(symbol="AAPL", side="buy", qty="6", source="manual", actor=admin, reason="seed").order,
        order_place(symbol="MSFT", side="buy", qty="2", source="manual", actor=admin, reason="seed").order,
    )
    return trend, blend, sessions[-1]


@pytest.mark.parametrize("width", [768, 1280])
def test_strategy_table_and_a_symbol_toggle_from_its_row(
    page, live_server, make_user, console_market, width, guide_img
):
    from strategies.models import StrategySymbol
    from trading_site.models import ActionLog

    admin = make_user("ada", "admin")
    make_user("olivia", "operator")
    trend, blend, last_session = _book(admin)
    page.set_viewport_size({"width": width, "height": 900})
    login(page, live_server, "olivia")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/strategies/")
    # the allocation preview, shown without asking for the latest session, draws its two charts
    charts = _charts(page)
    assert set(charts) == {"chart-alloc-strategy", "chart-alloc-symbol"}
    for chart in charts.values():
        assert chart["drawn"] and chart["axes"] >= 2 and chart["points"] >= 1, chart
    assert f"latest session {last_session:%Y-%m-%d}" in page.locator("#allocation").inner_text()
    if width == 1280:
        page.screenshot(path=str(guide_img / "strategies.png"), full_page=True)
    # exposure: AAPL 600 (trend 2/3 = 400, blend 200), MSFT 400 (blend): at cost, no P&L yet
    row = page.locator(f"#strategy-{trend.pk}")
    assert row.locator(".strategy-exposure").inner_text().startswith("400.00")
    assert page.locator(f"#strategy-{blend.pk} .strategy-exposure").inner_text().startswith("600.00")
    assert row.locator(".strategy-signal").inner_text().replace("\n", " ").startswith(f"{last_session:%Y-%m-%d}")
    assert "AAPL 100%" in row.locator(".strategy-signal").inner_text()
    assert "1,000.00" in page.locator("#strategy-total").inner_text()  # the gross exposure, all attributed
    assert _no_horizontal_scroll(page) <= 0, f"horizontal scroll on /strategies/ at {width}px"
    # a symbol off from blend's row, with a reason
    blend_row = page.locator(f"#strategy-{blend.pk}")
    blend_row.locator("summary:has-text('Toggle')").click()
    form = blend_row.locator("form.symbol-toggle")
    form.locator('select[name="symbol"]').select_option("MSFT")
    form.locator('select[name="enabled"]').select_option("false")
    form.locator('input[name="reason"]').fill("earnings tonight")
    form.locator("button:has-text('Apply')").click()
    page.wait_for_selector(f"#strategy-{blend.pk} .chip.off:has-text('MSFT (off)')")
    assert not StrategySymbol.objects.get(strategy=blend, asset__symbol="MSFT").enabled
    assert ActionLog.objects.get(action="strategy.symbol_toggle").reason == "earnings tonight"
    assert _no_horizontal_scroll(page) <= 0


def test_viewer_sees_the_figures_but_no_toggles(page, live_server, make_user, console_market):
    admin = make_user("ada", "admin")
    make_user("victor", "viewer")
    trend, _, _ = _book(admin)
    page.set_viewport_size({"width": 768, "height": 900})
    login(page, live_server, "victor")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/strategies/")
    assert page.locator(f"#strategy-{trend.pk} .strategy-exposure").inner_text().startswith("400.00")
    assert page.locator("summary:has-text('Toggle')").count() == 0
    assert page.locator('input[name="reason"]').count() == 0
