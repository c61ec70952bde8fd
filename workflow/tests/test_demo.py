"""The demo step: bundled demo dataset + one enabled strategy of each kind, idempotent."""

from __future__ import annotations

import datetime as dt

import pytest

from marketdata.bundled import BENCHMARK_SYMBOL
from marketdata.models import Asset, Bar
from marketdata.panels import benchmark_close_series
from marketdata.quality import quality_gaps, quality_large_moves
from strategies.models import Strategy, StrategySymbol
from strategies.services import allocation_preview
from workflow.demo import demo_data_setup

pytestmark = pytest.mark.slow  # loads the bundled demo dataset: over ~2 s


def test_demo_step_loads_the_demo_dataset_and_seeds_strategies_once(db, django_assert_num_queries):
    # when the demo step runs on an empty database
    first = demo_data_setup()

    # then the 20 stocks and the index are loaded (8,313 sessions each) and one strategy per kind exists
    assert "loaded 174573 bars" in first
    assert Bar.objects.count() == 21 * 8313
    assert set(Strategy.objects.filter(enabled=True).values_list("kind", flat=True)) == {
        "sma_crossover",
        "momentum",
        "mean_reversion",
        "ensemble",
    }
    assert StrategySymbol.objects.filter(enabled=True).count() == 4 * 20
    assert Asset.objects.get(symbol=BENCHMARK_SYMBOL).tradable is False
    assert not StrategySymbol.objects.filter(asset__symbol=BENCHMARK_SYMBOL).exists()

    # and running it again changes nothing (the operator's edits survive a restart) and stays cheap
    # (`make run` runs it on every start): two "is it loaded" probes and one strategies read
    Strategy.objects.filter(name="momentum").update(enabled=False)
    with django_assert_num_queries(3):
        second = demo_data_setup()
    assert second == "bundled data present; strategies present"
    assert Bar.objects.count() == 21 * 8313
    assert Strategy.objects.get(name="momentum").enabled is False

    # the benchmark series reads the index closes
    spx = benchmark_close_series(start=dt.date(1990, 1, 1), end=dt.date(1990, 1, 3))
    assert spx.tolist() == [359.69, 358.76]
    # the demo universe has no gaps against the NYSE calendar
    assert quality_gaps() == []
    # the index never moved more than 30% in a day (1987 is before the data starts)
    assert quality_large_moves(symbols=[BENCHMARK_SYMBOL]) == []
    # and the demo trades out of the box: the allocation over the last session is fully invested
    outcome = allocation_preview(method="rank_aggregation", as_of=dt.date(2022, 12, 28))
    assert round(outcome.allocation.weights["final_weight"].sum(), 9) == 1.0
