"""Replays are isolated from live trading (issue 15): each runs in a database of its own, never
writes a live row, and two of them run at once with live orders that still fill meanwhile."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection

from orders.brokers import use_broker
from orders.brokers.simulated import SimulatedBroker, session_position
from orders.gateway import order_place
from orders.models import Fill, Order, Position
from orders.selectors import price_cache_clear
from risk.state import CACHE_KEY
from strategies.models import Signal, Strategy, StrategySymbol
from strategies.services import strategy_create
from tax.models import TaxLot
from trading_site.lib.clock import NEW_YORK
from workflow.models import RebalanceRun
from workflow.replay import replay_run


@pytest.fixture
def strategies(small_market):
    cache.delete(CACHE_KEY)
    price_cache_clear()
    for name, kind, params in (
        ("sma", "sma_crossover", {"fast": 5, "slow": 20}),
        ("revert", "mean_reversion", {"window": 10, "entry_z": 0.5}),
    ):
        strategy_create(
            actor=None, name=name, kind=kind, parameters=params, symbols=["AAPL", "IBM", "MSFT", "GOOG"], reason="test"
        )
    yield
    cache.delete(CACHE_KEY)
    price_cache_clear()


def _live_rows() -> dict:
    return {
        "orders": list(Order.objects.order_by("pk").values_list("pk", "status", "filled_qty")),
        "positions": list(Position.objects.order_by("symbol").values_list("symbol", "qty")),
        "strategies": list(Strategy.objects.order_by("pk").values_list("pk", "name", "updated_at")),
        "symbols": list(StrategySymbol.objects.order_by("pk").values_list("pk", "enabled")),
        "runs": RebalanceRun.objects.count(),
        "signals": Signal.objects.count(),
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_two_replays_and_live_orders_at_once_on_postgresql(strategies, tmp_path, settings):
    # given the live book (committed: the replay threads have connections of their own), and a live
    # market open around the clock (the test runs at any hour)
    assert connection.vendor == "postgresql"
    settings.SIM_MARKET_HOURS = "always"
    before = _live_rows()
    results: dict[str, object] = {}
    # A replay of these seven months takes about a second: each holds halfway through its sessions
    # until the live orders are in, so the live ledger is written while both are mid-run.
    live_done = threading.Event()
    halfway: list[str] = []

    def hold(name: str, done: int, total: int) -> None:
        if done == total // 2:
            halfway.append(name)
            live_done.wait(timeout=120)

    def replay(name: str) -> None:
        try:
            results[name] = replay_run(
                start=dt.date(2010, 6, 1),
                end=dt.date(2010, 12, 31),
                capital=Decimal("50000"),
                store=tmp_path / f"{name}.sqlite3",
                progress=lambda done, total: hold(name, done, total),
            )
        except Exception as exc:  # reported by the assertion below
            results[name] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=replay, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    # when live orders are placed while both replays run (always-open market, fills booked by the
    # submitting call: what is measured here is whether the live ledger is blocked, not fill delivery)
    latencies = []
    deadline = time.monotonic() + 120
    while len(halfway) < 2 and time.monotonic() < deadline and all(t.is_alive() for t in threads):
        time.sleep(0.05)
    assert sorted(halfway) == ["a", "b"], results  # both replays are mid-run, their stores open
    with use_broker(SimulatedBroker(market_hours="always", fill_delivery="inline")):
        for k in range(5):
            started = time.monotonic()
            order = order_place(symbol="IBM", side="buy", qty="1", source="manual", reason=f"live {k}").order
            latencies.append(time.monotonic() - started)
            assert order.status == "filled"
            time.sleep(0.5)
    live_running = [t.is_alive() for t in threads]
    live_done.set()
    for t in threads:
        t.join(timeout=900)
    # then both replays finished, with the same result (the same inputs), from empty books of their own
    a, b = results["a"], results["b"]
    assert not isinstance(a, Exception), a
    assert not isinstance(b, Exception), b
    assert a.trades > 0 and a.trades == b.trades and a.final_equity == b.final_equity
    assert a.consistency["positions_match"] and a.consistency["cash_match"]
    assert all(live_running), "the live orders were placed while the replays were running"
    # the live orders filled within seconds
    assert max(latencies) < 5, latencies
    assert Fill.objects.filter(order__reason__startswith="live").count() == 5
    # and the live database holds exactly the live rows: no replay order, run, signal or strategy change
    after = _live_rows()
    assert after["orders"][: len(before["orders"])] == before["orders"]
    assert len(after["orders"]) == len(before["orders"]) + 5
    assert after["positions"] == [("IBM", Decimal("5"))]
    assert {k: after[k] for k in ("strategies", "symbols", "runs", "signals")} == {
        k: before[k] for k in ("strategies", "symbols", "runs", "signals")
    }
    # while each replay's own database holds its ledger
    with sqlite3.connect(tmp_path / "a.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM orders_fill").fetchone()[0] >= a.trades
        assert db.execute("SELECT count(*) FROM strategies_strategy").fetchone()[0] == 2


def test_the_exchange_calendar_covers_windows_before_2006():
    # the simulated exchange's NYSE hours come from the market clock (from 1990), not "20 years before today"
    is_open, session, frac = session_position(dt.datetime(2003, 1, 2, 12, 0, tzinfo=NEW_YORK), mode="nyse")
    assert (is_open, session) == (True, dt.date(2003, 1, 2))
    assert frac == Decimal(150 * 60) / Decimal(390 * 60)
    assert session_position(dt.datetime(1995, 12, 25, 12, 0, tzinfo=NEW_YORK), mode="nyse")[0] is False


@pytest.mark.slow  # over 1.5 s here: kept out of make test-fast
@pytest.mark.django_db
def test_ten_replays_back_to_back_leave_nothing_behind(strategies, tmp_path, settings):
    # given the live book before any replay, and a live market open around the clock (any hour)
    settings.SIM_MARKET_HOURS = "always"
    before = _live_rows()
    # when the same window is replayed ten times in a row in this process
    runs = [
        replay_run(
            start=dt.date(2010, 10, 1),
            end=dt.date(2010, 12, 31),
            capital=Decimal("50000"),
            store=tmp_path / f"run-{k}.sqlite3",
        )
        for k in range(10)
    ]
    # then every run is the first one again: no state of an earlier run (positions, lots, caches,
    # the replaced tax-lot listener) leaks into a later one
    first = runs[0]
    assert first.trades > 0 and first.realized_pnl != 0
    for run in runs[1:]:
        assert (run.trades, run.final_equity, run.final_cash, run.realized_pnl) == (
            first.trades,
            first.final_equity,
            first.final_cash,
            first.realized_pnl,
        )
        assert run.trade_rows == first.trade_rows and list(run.equity) == list(first.equity)
        assert run.consistency["positions_match"] and run.consistency["cash_match"]
    # each store holds exactly its own run's ledger and lots
    counts = set()
    for k in range(10):
        with sqlite3.connect(tmp_path / f"run-{k}.sqlite3") as db:
            counts.add(
                tuple(
                    db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                    for table in ("orders_order", "orders_fill", "tax_taxtrade", "tax_taxlot")
                )
            )
    assert len(counts) == 1 and next(iter(counts))[2] == next(iter(counts))[1] > 0
    # and the live database is untouched, its fills still followed by the live tax-lot listener
    assert _live_rows() == before
    with use_broker(SimulatedBroker(market_hours="always", fill_delivery="inline")):
        order = order_place(symbol="IBM", side="buy", qty="2", source="manual", reason="after the replays").order
    assert order.status == "filled"
    assert list(TaxLot.objects.values_list("symbol", "qty_original")) == [("IBM", Decimal("2"))]
