"""The demo market: the bundled history re-dated session by session onto today's NYSE calendar."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command

from marketdata import conf, demo_market, providers
from marketdata.bundled import STOCKS_FILE, bundled_load
from marketdata.models import Bar
from marketdata.selectors import session_bar
from trading_site.lib.clock import NEW_YORK
from workflow.demo import demo_data_setup
from workflow.models import RebalanceRun

pytestmark = pytest.mark.slow  # the demo market's dataset and rebalances: over ~2 s


def ny(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NEW_YORK)


@pytest.fixture
def demo_on(monkeypatch, settings):
    settings.BROKER = "simulated"
    monkeypatch.setattr(conf, "DEMO_MARKET", True)


@pytest.fixture
def demo_data(db):
    return bundled_load(dataset="demo")


def file_closes() -> dict[tuple[str, dt.date], Decimal]:
    with gzip.open(STOCKS_FILE, "rt") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return {(symbol, dt.date.fromisoformat(row[0])): Decimal(value)
                for row in reader for symbol, value in zip(header[1:], row[1:], strict=True) if value}


def test_mapping_is_session_by_session_from_the_first_demo_session():
    assert demo_market.original_for(dt.date(2022, 12, 29)) == dt.date(2017, 1, 3)
    assert demo_market.original_for(dt.date(2022, 12, 30)) == dt.date(2017, 1, 4)
    assert demo_market.original_for(dt.date(2023, 1, 2)) is None  # New Year's Day observed: no session
    assert demo_market.original_for(dt.date(2023, 1, 3)) == dt.date(2017, 1, 5)
    assert demo_market.original_for(dt.date(2022, 12, 28)) is None  # the real history's own dates
    assert demo_market.original_for(dt.date(2026, 12, 5)) is None  # a Saturday
    sessions = demo_market.demo_sessions(end=dt.date(2026, 12, 4))
    originals = [demo_market.original_for(s) for s in sessions]
    cycle = demo_market.original_sessions()
    start = cycle.index(dt.date(2017, 1, 3))
    assert originals == list(cycle[start:start + len(sessions)])


def test_the_mapping_wraps_to_the_cycle_start_after_the_last_bundled_session():
    cycle, first = demo_market._cycle()
    remaining = len(cycle) - first
    sessions = demo_market.demo_sessions(end=dt.date(2027, 12, 1))
    assert remaining > len(sessions)  # the default start leaves years of runway before any wrap
    assert cycle[0] == demo_market.CYCLE_START and cycle[-1] == dt.date(2022, 12, 28)


@time_machine.travel(ny(2026, 12, 3, 12, 0), tick=False)
def test_refresh_stores_finished_sessions_with_the_real_prices_of_the_mapped_day(demo_on, demo_data):
    stored = demo_market.demo_bars_refresh(end=dt.date(2026, 12, 3))
    bars = list(Bar.objects.filter(original_session__isnull=False).values_list(
        "asset__symbol", "session", "original_session", "open", "high", "low", "close"))
    assert stored == len(bars) > 20 * 900
    sessions = {b[1] for b in bars}
    assert max(sessions) == dt.date(2026, 12, 2)  # today's session is not finished: never stored
    assert min(sessions) == dt.date(2022, 12, 29)
    real = file_closes()
    stocks = [b for b in bars if b[0] != "SPX"]
    for symbol, session, original, open_, high, low, close in stocks:
        assert demo_market.original_for(session) == original
        assert close == real[(symbol, original)]
        assert low == min(open_, close) and high == max(open_, close)
    # every original-dated bar is untouched (replay reads them)
    assert Bar.objects.filter(original_session__isnull=True, session__gt=dt.date(2022, 12, 28)).count() == 0
    assert demo_market.demo_bars_refresh(end=dt.date(2026, 12, 3)) == 0  # idempotent


def test_todays_intraday_bar_comes_from_the_mapped_day_before_it_is_stored(demo_on, demo_data):
    with time_machine.travel(ny(2026, 12, 3, 11, 0), tick=False):
        demo_market.demo_bars_refresh(end=dt.date(2026, 12, 3))
        bar = session_bar(symbol="AAPL", session=dt.date(2026, 12, 3))
        original = demo_market.original_for(dt.date(2026, 12, 3))
        assert bar.session == dt.date(2026, 12, 3)
        assert bar.close == file_closes()[("AAPL", original)]
        assert not Bar.objects.filter(session=dt.date(2026, 12, 3)).exists()
        assert demo_market.demo_label() == f"demo market — real prices of {original.isoformat()}"
    with time_machine.travel(ny(2026, 12, 3, 16, 1), tick=False):
        demo_market.demo_bars_refresh(end=dt.date(2026, 12, 3))
        stored = Bar.objects.get(asset__symbol="AAPL", session=dt.date(2026, 12, 3))
        assert (stored.close, stored.original_session) == (bar.close, original)


def test_quotes_move_through_the_session_in_market_time(demo_on, demo_data, settings):
    from orders.brokers.simulated import SimulatedBroker

    settings.SIM_MARKET_HOURS = "always"
    broker = SimulatedBroker()
    day = dt.date(2026, 12, 3)
    bar = demo_market.demo_bar(symbol="AAPL", session=day)
    assert bar.open != bar.close
    with time_machine.travel(ny(2026, 12, 3, 10, 0), tick=False):
        first = broker.latest_quote("AAPL").last
    broker._cache.clear()
    with time_machine.travel(ny(2026, 12, 3, 10, 1), tick=False):
        second = broker.latest_quote("AAPL").last
    assert first != second
    assert bar.low <= first <= bar.high and bar.low <= second <= bar.high


def test_with_alpaca_the_demo_market_is_never_used(demo_data, monkeypatch, settings):
    monkeypatch.setattr(conf, "DEMO_MARKET", True)
    settings.BROKER = "alpaca"
    assert not demo_market.enabled()
    assert providers.provider_name() == "alpaca"
    assert demo_market.demo_label() == ""
    with time_machine.travel(ny(2026, 12, 3, 11, 0), tick=False):
        bar = session_bar(symbol="AAPL", session=dt.date(2026, 12, 3))
    assert bar.session == dt.date(2022, 12, 28)  # the latest stored bar, never a re-dated one
    assert not Bar.objects.filter(original_session__isnull=False).exists()


@pytest.mark.parametrize(("moment", "day"), [
    (ny(2025, 1, 21, 15, 50), dt.date(2025, 1, 21)),  # Tuesday after Martin Luther King Jr. Day
    (ny(2026, 4, 6, 15, 50), dt.date(2026, 4, 6)),  # Monday after Good Friday
    (ny(2026, 5, 26, 10, 0), dt.date(2026, 5, 26)),  # Tuesday after Memorial Day, in the morning
    (ny(2025, 1, 20, 15, 50), dt.date(2025, 1, 17)),  # Martin Luther King Jr. Day: the latest session is Friday
    (ny(2026, 12, 5, 11, 0), dt.date(2026, 12, 4)),  # a Saturday
])
def test_rebalance_command_succeeds_on_the_demo_market(demo_on, demo_data, moment, day, settings):
    settings.SIM_MARKET_HOURS = "always"
    demo_data_setup()
    out = io.StringIO()
    with time_machine.travel(moment, tick=False):
        call_command("rebalance", stdout=out)
        run = RebalanceRun.objects.get()
    assert run.status == "completed", (run.failed_step, run.error)
    assert run.day == day
    assert run.orders_submitted > 0
    assert run.steps.get(name="data").detail["provider"] == "demo-market"
    original = demo_market.original_for(day)
    assert f"prices: demo market — real prices of {original.isoformat()}" in out.getvalue()


def test_a_platform_started_without_back_fill_still_has_its_history_up_to_yesterday(demo_on, demo_data):
    """DEMO_BACKFILL_SESSIONS=0 trades nothing back, but the stored bars reach the last finished demo
    session: during the session the stale-data breaker stays closed, so buys are not refused."""
    from marketdata.bundled import BENCHMARK_SYMBOL
    from risk.services import risk_defaults_ensure, stale_data_check
    from workflow.demo import demo_backfill

    risk_defaults_ensure()
    during = ny(2026, 12, 3, 10, 30)  # a Thursday session, before its close
    with time_machine.travel(during, tick=False):
        assert Bar.objects.order_by("-session").first().session == dt.date(2022, 12, 28)  # the bundled file
        summary = demo_backfill(sessions=0)
        assert summary.startswith("no back-fill; history re-dated up to the last finished session")
        latest = Bar.objects.filter(asset__symbol=BENCHMARK_SYMBOL).order_by("-session").first()
        assert latest.session == dt.date(2026, 12, 2) and latest.original_session is not None
        assert stale_data_check(now=during) is False
        assert demo_backfill(sessions=0).endswith("(0 bars stored)")  # idempotent
