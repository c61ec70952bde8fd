"""Replay: parity with the live workflow, isolation from the live ledger, and the 2011-2012 JSON run."""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command

from marketdata.models import Bar
from orders.brokers import use_broker
from orders.brokers.simulated import SimulatedBroker
from orders.conf import conf as orders_conf
from orders.gateway import order_place
from orders.models import Fill, Order, Position
from orders.selectors import price_cache_clear
from risk.state import CACHE_KEY
from strategies.models import Signal
from strategies.services import _weight_decimal, strategy_create
from tax.models import RealizedGain, TaxLot
from tests.delivery import stream_deliver
from trading_site.lib.clock import NEW_YORK
from workflow import conf as workflow_conf
from workflow.daily import rebalance_run
from workflow.models import RebalanceRun, ReplayRun
from workflow.replay import ReplayInputError, replay_run
from workflow.replays import replay_create
from workflow.tests.live_day import live_day

DAY = dt.date(2010, 12, 15)


@pytest.fixture
def market(small_market):
    saved, orders_conf.sim_starting_cash = orders_conf.sim_starting_cash, Decimal("50000")
    cache.delete(CACHE_KEY)
    price_cache_clear()
    strategy_create(
        actor=None,
        name="sma",
        kind="sma_crossover",
        parameters={"fast": 5, "slow": 20},
        symbols=["AAPL", "IBM", "MSFT", "GOOG"],
        reason="test",
    )
    strategy_create(
        actor=None,
        name="revert",
        kind="mean_reversion",
        parameters={"window": 10, "entry_z": 0.5},
        symbols=["AAPL", "IBM", "MSFT", "GOOG"],
        reason="test",
    )
    with use_broker(SimulatedBroker(market_hours="nyse")):
        yield
    orders_conf.sim_starting_cash = saved
    cache.delete(CACHE_KEY)
    price_cache_clear()


def test_replay_signals_and_orders_equal_the_live_workflow_for_the_same_day(market):
    # given the replay of one day with the live account's capital (rolled back, nothing stays)
    replayed = replay_run(start=DAY, end=DAY, capital=Decimal("50000"))
    assert Order.objects.count() == 0 and RebalanceRun.objects.count() == 0
    # when the live workflow runs that day at 15:45 New York
    with time_machine.travel(dt.datetime.combine(DAY, dt.time(15, 45), tzinfo=NEW_YORK), tick=False):
        live = rebalance_run(day=DAY)
    # then the signals and the orders are the same
    live_signals: dict[str, dict[str, str]] = {}
    for name, symbol, weight in Signal.objects.filter(run_id=f"rebalance-live-{DAY}").values_list(
        "strategy__name", "asset__symbol", "target_weight"
    ):
        live_signals.setdefault(name, {})[symbol] = str(weight)
    replay_day = replayed.days[DAY]
    replay_signals = {
        name: {s: str(_weight_decimal(w)) for s, w in weights.items()}
        for name, weights in replay_day["signals"].items()
    }
    assert replay_signals == live_signals and set(live_signals) == {"sma", "revert"}
    assert live.status == "completed" and replay_day["status"] == "completed"
    assert replay_day["orders"] == [p.as_dict() for p in live.planned] != []
    assert sorted((o.symbol, o.side, o.qty) for o in Order.objects.all()) == sorted(
        (o["symbol"], o["side"], Decimal(o["qty"])) for o in replay_day["orders"]
    )


@pytest.mark.slow
def test_replay_is_isolated_from_the_live_ledger(market):
    # given a live position bought through the gateway
    with time_machine.travel(dt.datetime(2010, 12, 1, 11, 0, tzinfo=NEW_YORK), tick=False):
        order_place(symbol="IBM", side="buy", qty="10", source="manual", reason="live")
        stream_deliver()  # the live fill arrives over the trade stream
    live_orders = list(Order.objects.values_list("pk", "status", "filled_qty"))
    live_positions = list(Position.objects.values_list("symbol", "qty"))
    assert live_positions == [("IBM", Decimal("10"))]
    # when a month is replayed
    result = replay_run(start=dt.date(2010, 12, 1), end=dt.date(2010, 12, 31), capital=Decimal("50000"))
    # then the replay started from an empty book of its own, and the live ledger is untouched
    assert result.runs > 0 and result.trades > 0
    # (the mirror starts from an empty book, so a match means the replay's ledger had no live rows)
    assert result.consistency["positions_match"] and result.consistency["cash_match"]
    assert list(Order.objects.values_list("pk", "status", "filled_qty")) == live_orders
    assert list(Position.objects.values_list("symbol", "qty")) == live_positions
    assert RebalanceRun.objects.count() == 0 and Signal.objects.count() == 0


def test_replay_rejects_bad_input_and_changes_nothing(market):
    with pytest.raises(ReplayInputError):
        replay_run(start=dt.date(2010, 12, 31), end=dt.date(2010, 12, 1))
    with pytest.raises(ReplayInputError):
        replay_run(start=DAY, end=DAY, capital=Decimal("-5"))
    with pytest.raises(ReplayInputError):
        replay_run(start=DAY, end=DAY, method="astrology")
    assert Order.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.slow
def test_replay_json_2011_2012_on_an_empty_database_is_consistent_with_its_fills():
    # given an empty database: the command loads the bundled data and the default strategy it is told to use
    cache.delete(CACHE_KEY)
    price_cache_clear()
    out = io.StringIO()
    call_command(
        "replay",
        "--start",
        "2011-01-01",
        "--end",
        "2012-12-31",
        "--strategies",
        "sma-crossover",
        "--symbols",
        "AAPL,JNJ,KO,XOM,WMT",
        "--json",
        stdout=out,
    )
    data = json.loads(out.getvalue())
    # then: one equity point per session, a benchmark curve, metrics, and trades
    assert len(data["equity_curve"]) == 502 == len(data["benchmark_curve"])
    assert data["equity_curve"][0]["date"] == "2011-01-03" and data["equity_curve"][-1]["date"] == "2012-12-31"
    assert data["trades"] > 0
    # every metric is reported, and the return/risk ones also for the benchmark
    compared = {"total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown"}
    assert compared | {"turnover", "commissions", "trades"} <= set(data["metrics"])
    assert set(data["metrics"]["benchmark"]) == compared
    # final equity = cash + positions at the last close, all from the ledger (positions table, exchange cash)
    check = data["consistency"]
    assert check["positions_match"] and check["cash_match"]
    assert abs(Decimal(str(data["equity_curve"][-1]["equity"])) - Decimal(check["ledger_equity"])) <= Decimal("0.005")
    assert data["metrics"]["end_equity"] == pytest.approx(float(check["ledger_equity"]), abs=0.005)
    # ... recomputed from the replay's own database: its positions at the 2012-12-31 closes plus its cash
    with sqlite3.connect(data["store"]) as db:
        positions = db.execute("SELECT symbol, qty FROM orders_position WHERE qty != 0").fetchall()
        lots_gain = db.execute("SELECT sum(gain_loss) FROM tax_realizedgain").fetchone()[0]
    closes = {b.asset.symbol: b.close for b in Bar.objects.filter(session=dt.date(2012, 12, 31))}
    value = sum((Decimal(str(q)) * closes[s] for s, q in positions), Decimal(0))
    assert Decimal(data["final_equity"]) == (Decimal(check["ledger_cash"]) + value).quantize(Decimal("0.01"))
    # realized P&L = the sum of the tax lots' realized gains
    assert Decimal(data["realized_pnl"]) == Decimal(str(lots_gain)).quantize(Decimal("0.01"))
    # the same figures are stored for the console's report
    run = ReplayRun.objects.get(pk=data["id"])
    assert run.status == "completed" and run.final_equity == Decimal(data["final_equity"])
    assert run.realized_pnl == Decimal(data["realized_pnl"]) and run.orders == data["trades"]
    assert len(run.equity_curve) == 502 and run.trades and run.data_fingerprint and run.code_version
    # and nothing of the replay stayed in the live database
    assert Order.objects.count() == 0 and Position.objects.count() == 0 and RebalanceRun.objects.count() == 0


def test_replay_refuses_symbols_outside_the_universes(market):
    with pytest.raises(ReplayInputError, match="NOPE"):
        replay_run(start=DAY, end=DAY, symbols=["AAPL", "nope"])
    assert Order.objects.count() == 0 and RebalanceRun.objects.count() == 0


@pytest.mark.parametrize(
    "field,value",
    [
        ("start", "2003-13-01"),
        ("start", "1989-12-29"),
        ("capital", "1_0"),
        ("capital", "-5"),
        ("capital", "NaN"),
        ("capital", "١٠٠"),
        ("strategies", "astrology"),
    ],
)
def test_replay_create_refuses_bad_input_and_stores_nothing(market, field, value):
    request = {"start": "2010-12-01", "end": "2010-12-31", "capital": "50000", "strategies": None, field: value}
    with pytest.raises(ReplayInputError):
        replay_create(actor=None, **request)
    assert ReplayRun.objects.count() == 0


@pytest.mark.slow
def test_replay_command_writes_an_html_report_and_reports_progress(market, tmp_path, capsys):
    report = tmp_path / "report.html"
    call_command(
        "replay", "--start", "2010-12-01", "--end", "2010-12-31", "--capital", "50000", "--report", str(report)
    )
    captured = capsys.readouterr()
    assert "100.0% · 0:00 left" in captured.err and "report written to" in captured.out
    html = report.read_text()
    assert "<polyline" in html and "Monthly returns" in html and "2010-12" in html and "Trades" in html
    run = ReplayRun.objects.get()
    assert run.status == "completed" and run.progress_done == run.progress_total == 22


PARITY_DAYS = (dt.date(2010, 12, 13), dt.date(2010, 12, 14), dt.date(2010, 12, 15))


def _q(value) -> str:
    return str(Decimal(str(value)).normalize())


@pytest.mark.slow  # over 1.5 s here: kept out of make test-fast
def test_three_days_of_replay_equal_the_live_workflow_with_stream_delivery(market, monkeypatch):
    # given orders above 10,000 going out as TWAP parents
    monkeypatch.setattr(workflow_conf, "REBALANCE_TWAP_NOTIONAL", Decimal("10000"))
    # when the three days are replayed, and then run live through the gateway (fills from the stream)
    replayed = replay_run(start=PARITY_DAYS[0], end=PARITY_DAYS[-1], capital=Decimal("50000"))
    broker = SimulatedBroker(market_hours="nyse")
    assert broker.fill_delivery == "stream"
    with use_broker(broker):
        for day in PARITY_DAYS:
            live_day(day, broker)
    # then orders, fills, positions and tax lots are the same
    live = {
        "orders": sorted(
            (o.created_at.isoformat(), o.symbol, o.side, _q(o.qty), o.status, _q(o.filled_qty), _q(o.filled_notional),
             o.total_slices or 0, o.slice_num or 0, o.parent_order_id is not None)
            for o in Order.objects.all()
        ),
        "fills": sorted(
            (f.executed_at.isoformat(), f.symbol, f.side, _q(f.qty), _q(f.price), _q(f.commission))
            for f in Fill.objects.all()
        ),
        "positions": sorted(
            (p.symbol, _q(p.qty), _q(p.avg_cost), _q(p.realized_pnl)) for p in Position.objects.exclude(qty=0)
        ),
        "lots": sorted(
            (lot.symbol, lot.acquired_date.isoformat(), _q(lot.qty_original), _q(lot.open_qty),
             _q(lot.cost_basis_total), lot.status)
            for lot in TaxLot.objects.all()
        ),
        "realized": sorted((r.symbol, _q(r.qty), _q(r.gain_loss)) for r in RealizedGain.objects.all()),
    }  # fmt: skip
    with sqlite3.connect(replayed.store_path) as db:
        rows = {
            "orders": sorted(
                (dt.datetime.fromisoformat(c).replace(tzinfo=dt.UTC).isoformat(), s, side, _q(q), st, _q(fq), _q(fn),
                 ts or 0, sn or 0, parent is not None)
                for c, s, side, q, st, fq, fn, ts, sn, parent in db.execute(
                    "SELECT created_at, symbol, side, qty, status, filled_qty, filled_notional, total_slices, "
                    "slice_num, parent_order_id FROM orders_order")
            ),
            "fills": sorted(
                (dt.datetime.fromisoformat(e).replace(tzinfo=dt.UTC).isoformat(), s, side, _q(q), _q(p), _q(c))
                for e, s, side, q, p, c in db.execute(
                    "SELECT executed_at, symbol, side, qty, price, commission FROM orders_fill")
            ),
            "positions": sorted(
                (s, _q(q), _q(a), _q(r)) for s, q, a, r in db.execute(
                    "SELECT symbol, qty, avg_cost, realized_pnl FROM orders_position WHERE qty != 0")
            ),
            "lots": sorted(
                (s, a, _q(qo), _q(oq), _q(b), st) for s, a, qo, oq, b, st in db.execute(
                    "SELECT symbol, acquired_date, qty_original, open_qty, cost_basis_total, status FROM tax_taxlot")
            ),
            "realized": sorted(
                (s, _q(q), _q(g)) for s, q, g in db.execute("SELECT symbol, qty, gain_loss FROM tax_realizedgain")
            ),
        }  # fmt: skip
    assert rows["orders"] and rows["fills"] and rows["positions"] and rows["lots"]
    assert any(o[7] for o in rows["orders"]), "a TWAP parent is among the orders"
    for key in ("orders", "fills", "positions", "lots", "realized"):
        assert rows[key] == live[key], key
