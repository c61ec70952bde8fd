"""Dashboard: exact figures from the ledger and account snapshots, the SVG equity curve, the htmx
partial, and pinned query counts (no N+1 over positions)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from console import selectors
from console.tests.conftest import T0, buy, price_set
from orders.models import AccountSnapshot
from orders.reconcile import account_snapshot_record
from trading_site.alerts import alert_raise

pytestmark = pytest.mark.django_db


def _yesterday_snapshot(equity: str) -> None:
    AccountSnapshot.objects.create(time=T0 - dt.timedelta(days=1), cash=D(equity), equity=D(equity),
                                   buying_power=D(equity), broker="simulated")


def test_figures_from_fills_prices_and_snapshots(market, frozen, operator):
    # given yesterday's close at 100,000 and a buy of 10 AAPL at 100, then AAPL moves to 110
    _yesterday_snapshot("100000")
    buy("AAPL", "10", actor=operator)
    price_set("AAPL", "110")
    account_snapshot_record()  # cash 99,000 + 10 × 110 = 100,100
    # when
    f = selectors.figures()
    # then
    assert (f.equity, f.cash, f.buying_power) == (D("100100"), D("99000"), D("99000"))
    assert f.day_pnl == D("100")  # 100,100 − 100,000
    assert (f.realized_pnl, f.unrealized_pnl, f.total_pnl) == (D("0"), D("100"), D("100"))
    assert f.market_value == D("1100")
    assert [(p.symbol, p.qty, p.avg_cost, p.last_price) for p in f.positions] == [("AAPL", D(10), D(100), D(110))]
    assert not f.kill_switch_engaged and f.open_breakers == ()


def test_realized_pnl_counts_closed_positions(market, frozen, operator):
    # given buy 10 AAPL at 100, sell 4 at 110: realized 4 × 10 = 40; 6 left, unrealized 6 × 10 = 60
    buy("AAPL", "10", actor=operator)
    price_set("AAPL", "110")
    buy("AAPL", "4", actor=operator, side="sell")
    f = selectors.figures()
    assert (f.realized_pnl, f.unrealized_pnl, f.total_pnl) == (D("40"), D("60"), D("100"))
    assert f.day_pnl is None and f.equity is None  # no account snapshot yet: shown as "—"


def test_dashboard_page_shows_the_figures_curve_strategies_and_alerts(client, viewer, market, frozen, operator):
    _yesterday_snapshot("100000")
    buy("AAPL", "10", actor=operator)
    price_set("AAPL", "110")
    account_snapshot_record()
    alert_raise(source="reconciliation", message="position mismatch on MSFT", severity="warning", metric="recon")
    client.force_login(viewer)
    html = client.get("/").content.decode()
    assert '<span class="value">100,100.00</span>' in html  # equity
    assert 'id="fig-day-pnl"><span class="label">Day P&amp;L</span><span class="value ok">+100.00</span>' in html
    assert '<tr data-symbol="AAPL"><th scope="row">AAPL</th><td class="num">10</td>' in html
    assert 'data-chart="chart-equity"' in html and '<script id="chart-equity" type="application/json">' in html
    assert "position mismatch on MSFT" in html
    assert 'hx-get="/partials/figures/" hx-trigger="every 3s"' in html
    assert 'id="platform-health"' in html


def test_market_close_report_is_shown(client, viewer, market):
    from workflow.models import DailyPerformance

    DailyPerformance.objects.create(day=dt.date(2026, 3, 9), equity=D("101000"), cash=D("50000"), pnl=D("-250"),
                                    daily_return=-0.0024691358, cumulative_return=0.01, drawdown=-0.0125,
                                    created_at=T0)
    client.force_login(viewer)
    html = client.get("/").content.decode()
    assert ('Market close 2026-03-09: equity 101,000.00, P&amp;L <span class="bad">-250.00</span>, day -0.25%, '
            'cumulative 1.00%, drawdown -1.25%.') in html


def test_kill_switch_and_breakers_show_on_the_dashboard(client, viewer, market):
    from risk.services import breaker_trip, kill_switch_latch

    kill_switch_latch(actor=None, reason="drill")
    breaker_trip(name="drawdown", reason="test trip")
    client.force_login(viewer)
    html = client.get("/partials/figures/").content.decode()
    assert "Kill switch ENGAGED" in html and 'id="kill-switch-badge">ENGAGED' in html
    assert "drawdown open" in html


def test_partial_is_a_fragment_and_needs_a_login(client, viewer, market):
    response = client.get("/partials/figures/", headers={"HX-Request": "true"})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/partials/figures/"
    client.force_login(viewer)
    response = client.get("/partials/figures/", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and 'id="fig-equity"' in html


def test_chart_specs_rebase_the_benchmark_and_compute_drawdown():
    from console import charts

    t = dt.datetime(2026, 3, 9, 20, 0, tzinfo=dt.UTC)
    equity = [(t, D("100000")), (t + dt.timedelta(days=1), D("110000")), (t + dt.timedelta(days=2), D("99000"))]
    bench = [(dt.date(2026, 3, 6), D("4000")), (dt.date(2026, 3, 9), D("5000")), (dt.date(2026, 3, 10), D("5500")),
             (dt.date(2026, 3, 11), D("4500"))]
    spec = charts.equity_vs_benchmark(equity, bench, benchmark_label="SPX")
    assert spec["kind"] == "line" and spec["ranges"] is True
    assert spec["x"] == [int(t.timestamp()) + 86400 * i for i in range(3)]
    # rebased to the first equity: 100,000 × 5,500 / 5,000 = 110,000; × 4,500 / 5,000 = 90,000
    assert [s["values"] for s in spec["series"]] == [[100000.0, 110000.0, 99000.0], [100000.0, 110000.0, 90000.0]]
    assert spec["series"][1]["label"] == "SPX (rebased)"
    # drawdown from the 110,000 peak: 99,000 / 110,000 − 1 = −10 %
    assert charts.drawdown(equity)["series"][0]["values"] == [0.0, 0.0, -10.0]
    assert charts.equity_vs_benchmark(equity[:1], bench, benchmark_label="SPX") is None
    bars = charts.exposure_vs_limits([("AAPL", D("1100"), D("50000")), ("Gross", D("1100"), D("200000"))])
    assert bars == {"kind": "bar", "labels": ["AAPL", "Gross"], "y_label": "USD", "series": [
        {"label": "Used", "values": [1100.0, 1100.0], "style": "line"},
        {"label": "Limit", "values": [50000.0, 200000.0], "style": "line"}]}


def _positions(n: int) -> None:
    from orders.models import Position

    for i in range(n):
        symbol = f"S{i:03d}"
        price_set(symbol, "50")
        Position.objects.create(symbol=symbol, qty=D(i + 1), avg_cost=D("40"), updated_at=T0)


@pytest.mark.parametrize("positions", [2, 12])
def test_dashboard_query_count_is_fixed(client, viewer, market, warm_quotes, django_assert_num_queries, positions,
                                        monkeypatch):
    from django.core.cache import cache

    from console import views
    from console.views import FIGURES_CACHE_KEY, STATUS_CACHE_KEY

    monkeypatch.setattr(views, "FIGURES_CACHE_SECONDS", 60)  # the warm case must not expire mid-test
    monkeypatch.setattr(views, "STATUS_CACHE_SECONDS", 60)

    _positions(positions)
    _yesterday_snapshot("100000")
    account_snapshot_record()
    client.force_login(viewer)
    client.get("/")  # warms the quote and risk-state caches
    cache.delete_many([FIGURES_CACHE_KEY, STATUS_CACHE_KEY])
    # session, user, groups, health (SELECT 1, 3 heartbeats: worker, beat and — production's stream
    # delivery — the trade stream; the supervisor's), equity curve, benchmark closes, positions
    # (by symbol, exposure), market-close report, strategies, alerts, and the figures: account
    # snapshot, fills since it, positions, day reference
    with django_assert_num_queries(18):
        response = client.get("/")
    assert response.content.decode().count("<tr data-symbol=") == positions
    with django_assert_num_queries(3):  # both fragments are shared for a few seconds
        client.get("/")
    cache.delete(FIGURES_CACHE_KEY)
    with django_assert_num_queries(7):  # session, user, groups, snapshot, fills since, positions, day reference
        client.get("/partials/figures/")
    with django_assert_num_queries(3):
        client.get("/partials/figures/")


def test_platform_panel_shows_the_supervisors_restarts_in_the_last_hour(client, viewer):
    from django.core.cache import cache

    from trading_site.health import heartbeat_record

    heartbeat_record(name="platform", detail={"pid": 1, "restarts_last_hour": 2, "children": {
        "web": {"pid": 2, "running": True, "restarts_last_hour": 0, "last_exit": ""},
        "worker": {"pid": 3, "running": False, "restarts_last_hour": 2, "last_exit": "killed by SIGKILL"}}})
    cache.clear()  # the status fragment is shared for a few seconds
    client.force_login(viewer)
    html = client.get("/").content.decode()
    panel = html[html.index('id="platform-health"'):]
    assert ('<tr><th scope="row">platform</th><td class="bad">restarting worker · 2 restarts in the last hour</td></tr>'
            in panel)


def test_close_position_link_is_for_operators_only(client, viewer, operator, market, frozen):
    buy("AAPL", "10", actor=operator)
    account_snapshot_record()
    client.force_login(operator)
    html = client.get("/").content.decode()
    assert 'href="/orders/new/?symbol=AAPL&amp;side=sell&amp;qty=10">Close</a>' in html
    client.force_login(viewer)
    assert "/orders/new/" not in client.get("/").content.decode()
    assert "/orders/new/" not in client.get("/partials/figures/").content.decode()


def test_an_expired_fragment_is_rendered_once_while_others_get_the_previous_copy(
    client, viewer, market, warm_quotes, django_assert_num_queries
):
    from django.core.cache import cache

    from console.views import FIGURES_CACHE_KEY, STATUS_CACHE_KEY

    client.force_login(viewer)
    first = client.get("/").content.decode()
    cache.delete_many([STATUS_CACHE_KEY, FIGURES_CACHE_KEY])  # the shared copies expire ...
    cache.add(f"{STATUS_CACHE_KEY}:refreshing", 1, 5)  # ... while another request is rendering the next one
    alert_raise(source="reconciliation", message="fresh alert", severity="warning", metric="recon")
    # session, user, groups and the live figures (no snapshot yet: snapshot, positions); no status render
    with django_assert_num_queries(5):
        html = client.get("/").content.decode()
    assert "fresh alert" not in html and 'id="platform-health"' in html
    assert html.split('id="platform-health"')[1] == first.split('id="platform-health"')[1]
    cache.delete(f"{STATUS_CACHE_KEY}:refreshing")  # that renderer is done (or its lock timed out)
    assert "fresh alert" in client.get("/").content.decode()
