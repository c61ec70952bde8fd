"""Strategy services: audited configuration changes, signal runs, allocation over stored data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from auditlog.models import LogEntry

from marketdata.panels import close_panel
from strategies.library import parameters_validate, strategy_weights
from strategies.models import Signal, Strategy, StrategySymbol
from strategies.services import (
    InvalidStrategyInput,
    KillSwitchEngaged,
    StrategyNotFound,
    allocation_compute,
    allocation_preview,
    signals_compute,
    signals_history,
    signals_record,
    strategy_create,
    strategy_symbol_set,
    strategy_update,
)
from trading_site.models import ActionLog, Alert

SYMBOLS = ["AAPL", "IBM", "MSFT", "GOOG"]
AS_OF = dt.date(2010, 6, 30)


@pytest.fixture
def strategies(small_market):
    specs = [
        ("sma", "sma_crossover", {"fast": 10, "slow": 40}),
        ("mom", "momentum", {"lookback": 60, "skip": 5, "top_n": 2}),
        ("mr", "mean_reversion", {"window": 20, "entry_z": 0.5}),
        (
            "ens",
            "ensemble",
            {"members": [{"kind": "sma_crossover", "parameters": {"fast": 10, "slow": 40}}, {"kind": "momentum"}]},
        ),
    ]
    return {
        name: strategy_create(actor=None, name=name, kind=kind, parameters=params, symbols=SYMBOLS)
        for name, kind, params in specs
    }


def _snapshot():
    return (
        list(Strategy.objects.values_list("name", "enabled", "parameters", "capital_cap").order_by("name")),
        list(StrategySymbol.objects.values_list("strategy__name", "asset__symbol", "enabled").order_by("pk")),
        ActionLog.objects.count(),
    )


def test_toggling_a_strategy_is_audited_with_actor_and_reason(strategies, operator):
    strategy = strategies["sma"]

    strategy_update(actor=operator, strategy_id=strategy.pk, enabled=False, reason="drawdown review")

    strategy.refresh_from_db()
    assert strategy.enabled is False
    entry = ActionLog.objects.get(action="strategy.toggle")
    assert (entry.actor, entry.reason, entry.object_id) == (operator, "drawdown review", str(strategy.pk))
    assert entry.data == {"enabled": {"from": True, "to": False}}
    assert LogEntry.objects.get_for_object(strategy).filter(action=LogEntry.Action.UPDATE).exists()


def test_parameter_update_is_validated_and_stored_with_defaults(strategies, operator):
    strategy_update(actor=operator, strategy_id=strategies["mom"].pk, parameters={"lookback": 90}, reason="tune")

    assert Strategy.objects.get(name="mom").parameters == {"lookback": 90, "skip": 21, "top_n": 5}
    assert ActionLog.objects.get(action="strategy.update").data["parameters"]["to"]["lookback"] == 90


@pytest.mark.parametrize(
    "kwargs",
    [
        {"parameters": {"fast": "ten"}},
        {"parameters": {"fast": 50, "slow": 40}},
        {"parameters": ["fast", 10]},
        {"enabled": "no"},
        {"capital_cap": Decimal("1.5")},
        {"capital_cap": "abc"},
        {"enabled": False, "parameters": {"fast": -1}},
    ],
)
def test_invalid_update_changes_nothing(strategies, operator, kwargs):
    before = _snapshot()

    with pytest.raises(InvalidStrategyInput):
        strategy_update(actor=operator, strategy_id=strategies["sma"].pk, **kwargs)

    assert _snapshot() == before


def test_unknown_strategy_and_symbol_are_not_found(strategies, operator):
    with pytest.raises(StrategyNotFound):
        strategy_update(actor=operator, strategy_id=999_999, enabled=False)
    with pytest.raises(StrategyNotFound):
        strategy_symbol_set(actor=operator, strategy_id=strategies["sma"].pk, symbol="FB", enabled=False)


def test_symbol_toggle_is_audited(strategies, operator):
    strategy_symbol_set(actor=operator, strategy_id=strategies["mom"].pk, symbol="ibm", enabled=False, reason="halted")

    assert not StrategySymbol.objects.get(strategy__name="mom", asset__symbol="IBM").enabled
    entry = ActionLog.objects.get(action="strategy.symbol_toggle")
    assert (entry.actor, entry.reason, entry.data["symbol"]) == (operator, "halted", "IBM")


def test_signals_equal_the_vectorised_strategy_on_the_adjusted_panel(strategies):
    # when the signals of 2010-06-30 are computed from stored bars
    result = signals_compute(as_of=AS_OF)

    # then each strategy's row is the last row of the full computation on the adjusted closes
    panel = close_panel(symbols=SYMBOLS, end=AS_OF)
    assert result.session == AS_OF
    for name, strategy in strategies.items():
        expected = strategy_weights(kind=strategy.kind, parameters=strategy.parameters, prices=panel[sorted(SYMBOLS)])
        got = result.signals[name].set_index("symbol")["weight"]
        pd.testing.assert_series_equal(got, expected.weights.iloc[-1], check_names=False, atol=1e-12)
    assert set(result.returns.columns) == set(strategies)
    assert len(result.returns) == 60


def test_signals_record_stores_one_run(strategies):
    run = signals_record(as_of=AS_OF, run_id="run-1")

    assert run.count == 16 and run.session == AS_OF
    stored = Signal.objects.filter(run_id="run-1")
    assert stored.count() == 16
    for name in strategies:
        total = sum(stored.filter(strategy__name=name).values_list("target_weight", flat=True))
        assert total in (Decimal(0), Decimal(1)) or abs(total - 1) <= Decimal("0.000000004")
    # the same run id again overwrites instead of duplicating
    signals_record(as_of=AS_OF, run_id="run-1")
    assert Signal.objects.filter(run_id="run-1").count() == 16


def test_disabled_strategy_and_symbol_drop_out_of_the_allocation(strategies, operator):
    before = allocation_preview(method="equal_weight", as_of=AS_OF)
    assert set(before.allocation.by_strategy["strategy"]) == {"ens", "mom", "mr", "sma"} - set(
        before.allocation.excluded
    )
    assert before.allocation.weights["final_weight"].sum() == pytest.approx(1.0, abs=1e-9)

    strategy_update(actor=operator, strategy_id=strategies["mom"].pk, enabled=False, reason="test")
    strategy_symbol_set(actor=operator, strategy_id=strategies["sma"].pk, symbol="MSFT", enabled=False)
    after = allocation_preview(method="equal_weight", as_of=AS_OF)

    assert "mom" not in set(after.allocation.by_strategy["strategy"])
    assert after.allocation.excluded["mom"] == "disabled"
    contributions = after.allocation.weights.set_index("symbol")["contributing_strategies"]
    assert all("mom" not in names for names in contributions)
    assert "sma" not in contributions.get("MSFT", [])


def test_preview_rejects_unknown_method_and_bad_gross(strategies):
    with pytest.raises(InvalidStrategyInput, match="unknown allocation method"):
        allocation_preview(method="kelly", as_of=AS_OF)
    with pytest.raises(InvalidStrategyInput, match="gross"):
        allocation_preview(method="equal_weight", as_of=AS_OF, gross=-1)


def test_allocation_for_the_rebalance_alerts_when_strategies_move_together(small_market):
    # two strategies with identical parameters have identical returns (correlation 1.0)
    params = parameters_validate(kind="sma_crossover", parameters={"fast": 10, "slow": 40})
    for name in ("twin-a", "twin-b"):
        strategy_create(actor=None, name=name, kind="sma_crossover", parameters=params, symbols=SYMBOLS)

    outcome = allocation_compute(method="equal_weight", as_of=AS_OF)

    assert [(a, b) for a, b, _ in outcome.correlation.breaches] == [("twin-a", "twin-b")]
    assert Alert.objects.get().metric == "strategy_correlation"
    # the preview reports it but does not alert again
    preview = allocation_preview(method="equal_weight", as_of=AS_OF)
    assert preview.correlation.breaches and Alert.objects.count() == 1


@pytest.fixture
def fresh_risk_state():
    """risk caches its state and invalidates it on commit; keep the cache out of other tests."""
    from django.core.cache import cache

    from risk.state import CACHE_KEY

    cache.delete(CACHE_KEY)
    yield
    cache.delete(CACHE_KEY)


def test_the_kill_switch_blocks_new_signals_and_rebalance_allocations(
    strategies, operator, fresh_risk_state, django_capture_on_commit_callbacks
):
    from risk.services import kill_switch_latch

    with django_capture_on_commit_callbacks(execute=True):
        kill_switch_latch(actor=operator, reason="drill")

    with pytest.raises(KillSwitchEngaged):
        signals_record(as_of=AS_OF, run_id="blocked")
    with pytest.raises(KillSwitchEngaged):
        allocation_compute(method="equal_weight", as_of=AS_OF)
    assert not Signal.objects.exists()
    # a read-only preview stays available to the operator
    assert allocation_preview(method="equal_weight", as_of=AS_OF).session == AS_OF


def test_history_in_one_pass_gives_each_day_what_live_computes_that_day(strategies):
    # replay computes the whole range once; live computes day by day from data ending that day
    history = signals_history(start=dt.date(2010, 6, 1), end=dt.date(2010, 12, 31))

    for day in [dt.date(2010, 6, 1), dt.date(2010, 7, 4), dt.date(2010, 9, 15), dt.date(2010, 12, 31)]:
        replayed, live = history.at(day), signals_compute(as_of=day)
        assert replayed.session == live.session
        for name in strategies:
            pd.testing.assert_frame_equal(replayed.signals[name], live.signals[name], atol=1e-12)
        pd.testing.assert_frame_equal(replayed.returns, live.returns, atol=1e-12)
    # 2010-07-04 is a Sunday holiday weekend: the signal is that of Friday 2010-07-02
    assert history.at(dt.date(2010, 7, 4)).session == dt.date(2010, 7, 2)
    assert history.at(dt.date(2009, 1, 1)).session is None
