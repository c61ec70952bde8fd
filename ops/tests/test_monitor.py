"""``manage.py monitor``: the JSON matches the API's account and positions; P&L colours; performance
figures from account snapshots (hand-computed); logs merge actions and alerts; watch mode; bad input."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from decimal import Decimal as D

import pytest
import time_machine
from django.core.management import CommandError, call_command

from marketdata.models import Asset, Bar
from orders.brokers import use_broker
from orders.brokers.simulated import SimulatedBroker
from orders.gateway import order_place
from orders.models import AccountSnapshot
from orders.reconcile import account_snapshot_record
from orders.selectors import price_cache_clear
from tests.delivery import stream_deliver
from trading_site.alerts import alert_raise
from trading_site.audit import action_record
from trading_site.models import ActionLog, Alert

# Pre-trade checks and fill listeners of other apps are theirs to test: the monitor reads the ledger.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_hooks")]

# Tuesday 10 March 2026, 15:00 UTC = 11:00 in New York: inside the NYSE session.
T0 = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    """rich sizes tables to COLUMNS: wide enough that no cell wraps in the assertions below."""
    monkeypatch.setenv("COLUMNS", "200")


def coloured(code: str, text: str, out: str) -> bool:
    """Is ``text`` rendered in the SGR colour ``code`` (cells may pad the text with spaces)?"""
    return re.search(re.escape(f"\x1b[{code}m") + r" *" + re.escape(text), out) is not None


def _asset(symbol: str, price: str) -> Asset:
    asset = Asset.objects.create(symbol=symbol, name=symbol)
    p = D(price)
    Bar.objects.create(asset=asset, session=dt.date(2026, 3, 9), open=p, high=p, low=p, close=p)
    return asset


def _reprice(asset: Asset, price: str) -> None:
    p = D(price)
    Bar.objects.filter(asset=asset).update(open=p, high=p, low=p, close=p)
    price_cache_clear()


def _monitor(*args: str) -> str:
    out = io.StringIO()
    call_command("monitor", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def book(exact_fills):
    """Buy 10 AAPL @ 100 and 5 MSFT @ 200; AAPL moves to 110, MSFT to 190; sell 4 AAPL @ 110.

    Cash 100,000 − 1,000 − 1,000 + 440 = 98,440. AAPL 6 @ 100 → 660 (+60 unrealized, +40 realized);
    MSFT 5 @ 200 → 950 (−50). Equity 98,440 + 660 + 950 = 100,050.
    """
    aapl, msft = _asset("AAPL", "100"), _asset("MSFT", "200")
    with time_machine.travel(T0, tick=False):
        with use_broker(SimulatedBroker(market_hours="always")):
            order_place(symbol="AAPL", side="buy", qty="10", source="api")
            order_place(symbol="MSFT", side="buy", qty="5", source="api")
            stream_deliver()  # the fills arrive over the trade stream, as in production
        _reprice(aapl, "110")
        _reprice(msft, "190")
        broker = SimulatedBroker(market_hours="always")  # a fresh broker: the simulated one caches bars
        with use_broker(broker):
            order_place(symbol="AAPL", side="sell", qty="4", source="api")
            stream_deliver()
            account_snapshot_record(broker=broker)
            yield broker


def test_status_json_matches_the_account_and_positions_api(book, viewer, api_as):
    with time_machine.travel(T0, tick=False):
        client = api_as(viewer)
        account_api = client.get("/api/v1/account/").json()
        positions_api = client.get("/api/v1/positions/").json()
        status = json.loads(_monitor("status", "--json"))

    money = ("equity", "cash", "buying_power", "long_market_value", "short_market_value")
    assert {k: D(status["account"][k]) for k in money} == {k: D(account_api[k]) for k in money}
    assert D(status["account"]["equity"]) == D("100050")
    assert D(status["account"]["cash"]) == D("98440")
    fields = ("qty", "avg_cost", "last_price", "market_value", "unrealized_pnl", "realized_pnl")
    assert [(p["symbol"], *(D(p[f]) for f in fields)) for p in status["positions"]] == [
        (p["symbol"], *(D(p[f]) for f in fields)) for p in positions_api
    ]
    assert [
        (p["symbol"], D(p["qty"]), D(p["market_value"]), D(p["unrealized_pnl"]), D(p["realized_pnl"]))
        for p in status["positions"]
    ] == [
        ("AAPL", D(6), D(660), D(60), D(40)),
        ("MSFT", D(5), D(950), D(-50), D(0)),
    ]
    assert D(status["gross_exposure"]) == D("1610")
    # the only snapshot is today's: it is the day's reference, so no change yet
    assert (status["account"]["day_pnl"], status["account"]["day_reference_equity"]) == ("0.00", "100050.00")
    assert (status["account"]["total_pnl"], account_api["total_pnl"]) == ("50.00", "50.000000")  # +40 +60 −50
    assert status["kill_switch"]["engaged"] is False and status["open_orders"] == 0


def test_day_pnl_is_against_the_previous_close(book):
    # Given yesterday's last snapshot at 100,000 (the previous close) and an earlier one at 99,950 ...
    _snap(T0 - dt.timedelta(days=1, hours=2), "99950")
    _snap(T0 - dt.timedelta(days=1), "100000")
    with time_machine.travel(T0, tick=False):
        account = json.loads(_monitor("status", "--json"))["account"]
        table = _monitor("status", "--force-color")
    # Then day P&L is 100,050 − 100,000 = +50 (docs/CONCEPTS/performance-metrics.md, "Day and total P&L").
    assert (account["day_pnl"], account["day_reference_equity"]) == ("50.00", "100000.00")
    assert coloured("32", "+50.00", table)


def test_dashboard_api_and_monitor_report_the_same_cash_equity_and_pnl_after_fills(book, viewer, api_as, deliver):
    """One source: after fills booked since the last snapshot, the three read the ledger's live account."""
    _snap(T0 - dt.timedelta(days=1), "100000")  # the previous close
    with time_machine.travel(T0 + dt.timedelta(seconds=1), tick=False), use_broker(book):
        # Given more fills after the snapshot: sell the 6 AAPL @ 110 (+660), buy 2 MSFT @ 190 (−380).
        order_place(symbol="AAPL", side="sell", qty="6", source="api")
        order_place(symbol="MSFT", side="buy", qty="2", source="api")
        deliver(book)  # the trade stream books both fills, as in production
    with time_machine.travel(T0 + dt.timedelta(seconds=2), tick=False), use_broker(book):
        api = api_as(viewer).get("/api/v1/account/").json()
        status = json.loads(_monitor("status", "--json"))["account"]
        client = api_as(viewer)  # a logged-in session for the console too
        client.force_login(viewer)
        from django.core.cache import cache

        from console.views import FIGURES_CACHE_KEY

        cache.delete(FIGURES_CACHE_KEY)
        html = client.get("/partials/figures/").content.decode()

    def figure(name: str) -> D:
        match = re.search(rf'id="fig-{name}">.*?<span class="value[^"]*">([^<]+)</span>', html, re.S)
        return D(match.group(1).replace(",", "").replace("+", ""))

    # Then: cash 98,440 + 660 − 380 = 98,720; positions MSFT 7 @ 190 = 1,330; equity 100,050.
    # P&L: realized AAPL 10 × (110 − 100) = +100; unrealized MSFT 7 × 190 − (5 × 200 + 2 × 190) = −50;
    # total +50; day 100,050 − 100,000 = +50.
    expected = {"cash": D("98720"), "equity": D("100050"), "total_pnl": D("50"), "day_pnl": D("50")}
    assert {k: D(status[k]) for k in expected} == expected
    # the API keeps the ledger's 6 places (MSFT's average cost 197.142857 makes unrealized −49.999999)
    assert {k: D(api[k]).quantize(D("0.01")) for k in expected} == expected
    assert {"cash": figure("cash"), "equity": figure("equity"), "total_pnl": figure("total-pnl"),
            "day_pnl": figure("day-pnl")} == expected
    assert (status["cash"], status["equity"], status["total_pnl"], status["day_pnl"]) == (
        "98720.00", "100050.00", "50.00", "50.00")


def test_monitor_json_has_one_type_per_field(book):
    with time_machine.travel(T0, tick=False):
        status = json.loads(_monitor("status", "--json"))
        orders = json.loads(_monitor("orders", "--json"))
        perf = json.loads(_monitor("performance", "--json"))
    # money in cents, quantities and prices plain: never "0E-9", never a float
    assert status["positions"][0] == {"symbol": "AAPL", "qty": "6", "avg_cost": "100", "last_price": "110",
                                      "market_value": "660.00", "unrealized_pnl": "60.00", "realized_pnl": "40.00"}
    assert status["gross_exposure"] == "1610.00"
    assert [(o["qty"], o["filled_qty"], o["avg_fill_price"], o["limit_price"]) for o in orders] == [
        ("4", "4", "110", None), ("5", "5", "200", None), ("10", "10", "100", None)]
    s = perf["summary"]
    assert (s["start_equity"], s["end_equity"], s["equity_change"], s["total_pnl"], s["commissions"]) == (
        "100050.00", "100050.00", "0.00", "50.00", "0.00")
    assert perf["curve"][0]["equity"] == "100050.00" and isinstance(perf["curve"][0]["cumulative_return"], float)


def test_tables_fit_80_columns(book):
    from rich.console import Console

    from ops import monitoring
    from ops.management.commands import monitor as cmd

    with time_machine.travel(T0, tick=False):
        views = [cmd.render_positions(monitoring.monitor_positions()),
                 cmd.render_orders(monitoring.monitor_orders()),
                 cmd.render_status(monitoring.monitor_status()),
                 cmd.render_performance(monitoring.monitor_performance())]
    for view in views:
        out = io.StringIO()
        Console(file=out, width=80, no_color=True).print(view)
        lines = out.getvalue().splitlines()
        assert max(len(line) for line in lines) <= 80
        assert "…" not in out.getvalue()  # no header or cell cut short


def test_positions_table_colours_profit_green_and_loss_red(book):
    with time_machine.travel(T0, tick=False):
        out = _monitor("positions", "--force-color")
    assert coloured("32", "+60.00", out)  # AAPL unrealized, green
    assert coloured("31", "-50.00", out)  # MSFT unrealized, red
    assert "AAPL" in out and "660.00" in out and "950.00" in out


def test_status_highlights_alerts_and_an_engaged_kill_switch(book):
    alert_raise(
        source="reconciliation",
        metric="position_mismatch",
        severity=Alert.Severity.CRITICAL,
        message="AAPL: ledger 6, broker 7",
    )
    with time_machine.travel(T0, tick=False):
        out = _monitor("status", "--force-color")
        data = json.loads(_monitor("status", "--json"))
    assert coloured("1;37;41", "CRITICAL", out)  # bold white on red
    assert "AAPL: ledger 6, broker 7" in out
    assert [a["message"] for a in data["alerts"]] == ["AAPL: ledger 6, broker 7"]


def test_orders_view_lists_newest_first_with_filters(book):
    with time_machine.travel(T0, tick=False):
        rows = json.loads(_monitor("orders", "--json"))
        aapl = json.loads(_monitor("orders", "--json", "--symbol", "aapl"))
        limited = json.loads(_monitor("orders", "--json", "--limit", "1"))
    assert [(r["symbol"], r["side"], D(r["qty"]), r["status"]) for r in rows] == [
        ("AAPL", "sell", D(4), "filled"),
        ("MSFT", "buy", D(5), "filled"),
        ("AAPL", "buy", D(10), "filled"),
    ]
    assert [r["side"] for r in aapl] == ["sell", "buy"]
    assert len(limited) == 1 and limited[0]["side"] == "sell"


def _snap(when: dt.datetime, equity: str) -> None:
    e = D(equity)
    AccountSnapshot.objects.create(time=when, cash=e, equity=e, buying_power=e, broker="simulated")


def test_performance_daily_pnl_cumulative_return_and_drawdown():
    # Given snapshots over three New York dates; the last of each date is that day's close.
    # 10 Mar: 99,000 then 100,000 (the 23:00 New York point on 10 Mar is 03:00 UTC on 11 Mar).
    _snap(dt.datetime(2026, 3, 10, 14, 0, tzinfo=dt.UTC), "99000")
    _snap(dt.datetime(2026, 3, 11, 3, 0, tzinfo=dt.UTC), "100000")
    _snap(dt.datetime(2026, 3, 11, 20, 0, tzinfo=dt.UTC), "102000")
    _snap(dt.datetime(2026, 3, 12, 20, 0, tzinfo=dt.UTC), "96900")
    _snap(dt.datetime(2026, 1, 2, 20, 0, tzinfo=dt.UTC), "50000")  # outside a 30-day window
    with time_machine.travel(dt.datetime(2026, 3, 13, 12, 0, tzinfo=dt.UTC), tick=False):
        data = json.loads(_monitor("performance", "--json"))
        table = _monitor("performance", "--force-color")
    # Then: daily P&L +2,000 and −5,100; cumulative 102,000/100,000 − 1 = 2 %, 96,900/100,000 − 1 = −3.1 %;
    # drawdown from the 102,000 peak: 96,900/102,000 − 1 = −5 %.
    assert [(r["date"], r["equity"], r["daily_pnl"]) for r in data["curve"]] == [
        ("2026-03-10", "100000.00", None),
        ("2026-03-11", "102000.00", "2000.00"),
        ("2026-03-12", "96900.00", "-5100.00"),
    ]
    assert [r["cumulative_return"] for r in data["curve"]] == pytest.approx([0.0, 0.02, -0.031], abs=1e-12)
    assert [r["drawdown"] for r in data["curve"]] == pytest.approx([0.0, 0.0, -0.05], abs=1e-12)
    s = data["summary"]
    assert (s["start"], s["end"], s["trading_days"], s["equity_change"]) == ("2026-02-12", "2026-03-13", 3, "-3100.00")
    assert s["total_pnl"] == "0.00"  # the ledger's realized + unrealized: no fills here
    assert (s["total_return"], s["max_drawdown"]) == pytest.approx((-0.031, -0.05), abs=1e-12)
    assert coloured("31", "-5.00 %", table) and coloured("32", "+2,000.00", table)


def test_performance_with_no_snapshots_says_so():
    data = json.loads(_monitor("performance", "--json", "--days", "5"))
    assert data["curve"] == [] and data["summary"]["trading_days"] == 0 and data["window_days"] == 5
    assert data["summary"]["end_equity"] is None and data["summary"]["equity_change"] is None
    assert "no account snapshots in" in _monitor("performance")


def test_logs_merge_actions_and_alerts_newest_first(operator):
    with time_machine.travel(dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC), tick=False):
        action_record(
            actor=operator, action="kill_switch.engage", object_type="risk.killswitch", object_id="1", reason="drill"
        )
    with time_machine.travel(dt.datetime(2026, 3, 10, 15, 5, tzinfo=dt.UTC), tick=False):
        alert_raise(
            source="risk", metric="kill_switch", severity=Alert.Severity.CRITICAL, message="Kill switch engaged"
        )
    with time_machine.travel(dt.datetime(2026, 3, 10, 15, 10, tzinfo=dt.UTC), tick=False):
        action_record(actor=None, action="order.submit", object_type="orders.order", object_id="7")
        data = json.loads(_monitor("logs", "--json"))
        table = _monitor("logs", "--force-color")
    assert [(e["kind"], e["who"], e["what"]) for e in data["entries"]] == [
        ("action", "system", "order.submit"),
        ("alert", "risk", "kill_switch"),
        ("action", "operator1", "kill_switch.engage"),
    ]
    assert coloured("1;37;41", "ALERT CRITICAL", table) and "no log file store" in table


def test_help_says_there_is_no_log_file_store():
    from ops.management.commands.monitor import Command

    assert "no log file store" in Command.help


def test_watch_json_prints_one_document_per_refresh():
    out = _monitor("status", "--json", "--watch", "0.01", "--count", "3")
    lines = out.strip().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["kill_switch"]["engaged"] is False for line in lines)


def test_watch_redraws_in_place_and_picks_up_changes(monkeypatch):
    # Given a live view; between refreshes an alert is raised (patched sleep = "time passes").
    import ops.management.commands.monitor as monitor_cmd

    def sleep(seconds):
        assert seconds == 2.0
        alert_raise(source="data", metric="stale", severity=Alert.Severity.WARNING, message="bars are stale")

    monkeypatch.setattr(monitor_cmd.time, "sleep", sleep)
    out = _monitor("logs", "--watch", "2", "--count", "2", "--force-color")
    # Then the second frame shows the new alert; rich.live moves the cursor up to redraw in place.
    assert "bars are stale" in out
    assert "\x1b[2K" in out or "\x1b[1A" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("status", "--watch", "0"), "--watch must be a positive"),
        (("status", "--count", "2"), "--count needs --watch"),
        (("orders", "--limit", "0"), "--limit must be between"),
        (("performance", "--days", "0"), "--days must be at least 1"),
        (("everything",), "invalid choice"),
        (("orders", "--status", "bogus"), "invalid choice"),
    ],
)
def test_bad_arguments_are_clear_errors_and_change_nothing(args, message):
    before = (ActionLog.objects.count(), Alert.objects.count(), AccountSnapshot.objects.count())
    with pytest.raises(CommandError, match=message):
        _monitor(*args)
    assert (ActionLog.objects.count(), Alert.objects.count(), AccountSnapshot.objects.count()) == before
