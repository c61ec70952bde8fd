"""The rebalance chain: steps, failure handling, idempotency, order generation, the close workflow."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache

from orders.brokers import use_broker
from orders.brokers.simulated import SimulatedBroker
from orders.conf import conf as orders_conf
from orders.models import Order
from orders.selectors import price_cache_clear
from risk.state import CACHE_KEY
from strategies.services import strategy_create
from trading_site.lib.clock import NEW_YORK
from trading_site.models import Alert
from workflow.daily import STEPS, PlannedOrder, market_close_run, orders_plan, rebalance_run
from workflow.models import DailyPerformance, RebalanceRun, RebalanceStep

DAY = dt.date(2010, 12, 15)  # a Wednesday session inside the small_market data


@pytest.fixture
def market(small_market):
    # $50,000 of simulated cash: the 40 % strategy cap stays under the $25,000 max order notional
    saved, orders_conf.sim_starting_cash = orders_conf.sim_starting_cash, Decimal("50000")
    cache.delete(CACHE_KEY)
    price_cache_clear()
    strategy_create(
        actor=None, name="sma", kind="sma_crossover", parameters={"fast": 5, "slow": 20},
        symbols=["AAPL", "IBM", "MSFT", "GOOG"], reason="test",
    )
    with use_broker(SimulatedBroker(market_hours="nyse")) as broker:
        yield broker
    orders_conf.sim_starting_cash = saved
    cache.delete(CACHE_KEY)
    price_cache_clear()


def at(day: dt.date, hour: int, minute: int):
    return time_machine.travel(dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NEW_YORK), tick=False)


def test_orders_plan_hand_worked_example():
    # given targets, equity 10,000, a position in A and C, an open buy of 5 A, and a $100 minimum trade
    planned = orders_plan(
        targets={"A": 0.5, "B": 0.25, "D": 0.012},
        equity=Decimal("10000"),
        prices={"A": Decimal("100"), "B": Decimal("33"), "C": Decimal("20"), "D": Decimal("50")},
        positions={"A": Decimal("10"), "C": Decimal("5"), "D": Decimal("1")},
        pending={"A": Decimal("5")},
        min_notional=Decimal("100"),
    )
    # then: A 5,000/100 = 50 target − (10 + 5) = buy 35; B ⌊2,500/33⌋ = 75; C closes (sell 5, first);
    # D ⌊120/50⌋ = 2 target, +1 share = $50 < $100 minimum → skipped
    assert planned == [
        PlannedOrder("C", "sell", Decimal("5"), Decimal("20"), Decimal("0"), Decimal("5")),
        PlannedOrder("A", "buy", Decimal("35"), Decimal("100"), Decimal("50"), Decimal("15")),
        PlannedOrder("B", "buy", Decimal("75"), Decimal("33"), Decimal("75"), Decimal("0")),
    ]


def test_orders_plan_fractional_only_for_fractionable_assets():
    planned = orders_plan(
        targets={"A": 0.5, "B": 0.5}, equity=Decimal("1000"), prices={"A": Decimal("300"), "B": Decimal("300")},
        positions={}, pending={}, fractionable={"B"},
    )
    assert [(o.symbol, o.qty) for o in planned] == [("A", Decimal("1")), ("B", Decimal("1.666666666"))]


def test_rebalance_runs_every_step_and_submits_the_planned_orders(market):
    with at(DAY, 15, 45):
        run = rebalance_run(day=DAY)
    assert run.status == "completed" and run.failed_step == "" and run.attempts == 1
    assert run.orders_rejected == 0, run.steps.get(name="submit").detail
    steps = list(RebalanceStep.objects.filter(run=run).values_list("name", "status"))
    assert steps == [(name, "completed") for name in STEPS]
    orders = list(Order.objects.order_by("symbol"))
    assert run.orders_planned == len(run.planned) == len(orders) == run.orders_submitted > 0
    assert {(o.symbol, o.side, o.qty) for o in orders} == {(p.symbol, p.side, p.qty) for p in run.planned}
    assert all(o.source == "signal" and o.strategy == "rebalance" for o in orders)
    # the planned quantities are whole shares worth at most the account's equity
    assert sum(p.qty * p.price for p in run.planned) <= Decimal("50000")


def test_rerunning_a_completed_day_submits_nothing_new(market):
    with at(DAY, 15, 45):
        first = rebalance_run(day=DAY)
    before = list(Order.objects.order_by("pk").values_list("pk", "client_order_id"))
    with at(DAY, 15, 50):
        again = rebalance_run(day=DAY)
    assert again.pk == first.pk and again.status == "completed" and again.attempts == 1
    assert list(Order.objects.order_by("pk").values_list("pk", "client_order_id")) == before
    assert RebalanceRun.objects.count() == 1


def test_stale_data_fails_the_data_step_alerts_and_submits_nothing(market):
    day = dt.date(2011, 3, 1)  # the small market ends on 2010-12-31
    with at(day, 15, 45):
        run = rebalance_run(day=day)
    assert run.status == "failed" and run.failed_step == "data"
    assert "stale data" in run.error
    assert list(run.steps.values_list("name", "status")) == [("data", "failed")]
    assert Order.objects.count() == 0
    alert = Alert.objects.get(metric="rebalance_failed")
    assert alert.data["step"] == "data" and alert.data["day"] == "2011-03-01"


def test_kill_switch_stops_the_chain_at_signals_and_a_retry_after_reset_completes(market):
    from risk.services import kill_switch_engage, kill_switch_reset

    kill_switch_engage(actor=None, reason="test", flatten=False)
    with at(DAY, 15, 45):
        failed = rebalance_run(day=DAY)
    assert failed.status == "failed" and failed.failed_step == "signals"
    assert list(failed.steps.values_list("name", "status")) == [("data", "completed"), ("signals", "failed")]
    assert Order.objects.count() == 0
    # when the switch is reset and the day is re-run: the same row completes, with its orders
    kill_switch_reset(actor=None, reason="test")
    cache.delete(CACHE_KEY)
    with at(DAY, 15, 46):
        retried = rebalance_run(day=DAY)
    assert retried.pk == failed.pk and retried.status == "completed" and retried.attempts == 2
    assert Order.objects.count() == retried.orders_submitted > 0


def test_market_close_confirms_fills_cancels_leftovers_and_stores_the_report(market):
    with at(DAY, 15, 45):
        rebalance_run(day=DAY)
    with at(DAY, 16, 5):
        report = market_close_run(day=DAY)
    assert not Order.objects.filter(status__in=["accepted", "submitted", "partially_filled"]).exists()
    assert DailyPerformance.objects.get(day=DAY) == report
    assert report.pnl == Decimal("0") and report.cumulative_return == 0.0
    assert report.positions == Order.objects.filter(filled_qty__gt=0).values("symbol").distinct().count()


def test_orders_above_the_twap_notional_become_twap_parents_counted_once_as_pending(market, monkeypatch):
    from workflow import conf
    from workflow.daily import _ledger_live

    monkeypatch.setattr(conf, "REBALANCE_TWAP_NOTIONAL", Decimal("1000"))
    with at(DAY, 15, 45):
        run = rebalance_run(day=DAY)
        assert run.status == "completed" and run.orders_submitted == len(run.planned) > 0
        parents = Order.objects.filter(source="signal", total_slices__isnull=False, parent_order__isnull=True)
        assert parents.count() == len(run.planned)
        assert all(p.children.count() == 7 for p in parents)  # REBALANCE_TWAP_SLICES over 14 minutes
        # the parents' remaining quantity is what is pending (children are not counted a second time)
        _, _, pending, _ = _ledger_live([p.symbol for p in run.planned])
    assert pending == {p.symbol: p.qty if p.side == "buy" else -p.qty for p in run.planned}


def test_a_run_in_progress_is_not_run_twice_but_an_abandoned_one_is_retried(market):
    with at(DAY, 15, 45):
        stuck = RebalanceRun.objects.create(day=DAY, started_at=dt.datetime(2010, 12, 15, 20, 44, tzinfo=dt.UTC))
        # a duplicated delivery while the first worker is still working: nothing happens
        assert rebalance_run(day=DAY).status == "running"
        assert Order.objects.count() == 0
    with at(DAY, 15, 45 + 14):
        assert rebalance_run(day=DAY).status == "running"
    # 36 minutes later the run counts as abandoned (longer than the task's time limit) and is retried
    with time_machine.travel(dt.datetime(2010, 12, 15, 21, 20, tzinfo=dt.UTC), tick=False):
        retried = rebalance_run(day=DAY)
    assert retried.pk == stuck.pk and retried.attempts == 2 and retried.status == "completed"


def test_rebalance_command_reports_a_failed_day_and_rejects_bad_dates(market):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("rebalance", "--date", "2010-13-45")
    assert RebalanceRun.objects.count() == 0
    with at(dt.date(2011, 3, 1), 15, 45), pytest.raises(CommandError, match="failed at data"):
        call_command("rebalance", "--date", "2011-03-01")
    assert RebalanceRun.objects.get().status == "failed"


def test_market_open_check_alerts_on_stale_data(market):
    from workflow.daily import market_open_check

    with at(dt.date(2011, 3, 1), 9, 30):
        result = market_open_check()
    assert Decimal(result["equity"]) == Decimal("50000")
    assert [p.split(":")[0] for p in result["problems"]] == ["data"]
    assert Alert.objects.filter(metric="market_open_check").count() == 1


def test_broker_rejections_are_recorded_per_order_and_alerted(market, monkeypatch):
    monkeypatch.setattr(orders_conf, "sim_reject_rate", 1.0)  # the simulated exchange says no to everything
    with at(DAY, 15, 45):
        run = rebalance_run(day=DAY)
    assert run.status == "completed" and run.orders_submitted == 0
    assert run.orders_rejected == len(run.planned) > 0
    assert set(Order.objects.values_list("status", flat=True)) == {"rejected"}
    codes = {r["code"] for r in run.steps.get(name="submit").detail["rejected"]}
    assert codes == {"SIMULATED_REJECT"}
    assert Alert.objects.filter(metric="rebalance_rejected").count() == 1
