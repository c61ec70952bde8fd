"""Strategies benchmarks (medians).

1. Allocation, 10 strategies × 500 symbols, each method (SPEC §5: budget < 50 ms, aim < 10 ms).
   Every strategy scores all 500 symbols and holds a random 250 of them (seeded).
2. Signals: the four demo strategies over 20 symbols × 10 years of the bundled adjusted closes
   (2013-2022, ~2,500 sessions) — all dates in one vectorised pass, as replay does.
   Budget < 1 s for the four together (the issue sets no number; a replay of 10 years must not be
   dominated by signal computation).
3. Bundled demo dataset load (174,573 bars: parse, validate, bulk insert) into the benchmark
   database, rolled back after each run. Budget < 20 s (make run does this on a first start).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from bench.util import median, result

ALLOC_RUNS = 30
SIGNAL_RUNS = 5
LOAD_RUNS = 3


def _allocation_signals() -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, float]]]:
    rng = np.random.default_rng(42)
    symbols = np.array([f"S{i:03d}" for i in range(500)])
    signals, stats = {}, {}
    for k in range(10):
        weights = np.where(rng.random(500) < 0.5, rng.random(500), 0.0)
        signals[f"strategy-{k}"] = pd.DataFrame({"symbol": symbols, "score": rng.normal(size=500), "weight": weights})
        stats[f"strategy-{k}"] = {"vol": 0.05 + 0.02 * k}
    return signals, stats


def _bench_allocation() -> list[dict]:
    from strategies.allocation import METHODS, MultiAlphaAllocator

    signals, stats = _allocation_signals()
    items = []
    for method in METHODS:
        allocator = MultiAlphaAllocator(method=method, per_strategy_max=0.40)
        allocator.allocate(signals, stats)  # warm-up
        samples = []
        for _ in range(ALLOC_RUNS):
            started = time.perf_counter()
            allocator.allocate(signals, stats)
            samples.append((time.perf_counter() - started) * 1000)
        value = median(samples)
        items.append(result(f"allocation 10 strategies x 500 symbols ({method})", value, "ms", "<50 ms", value < 50))
    return items


def _bench_signals() -> list[dict]:
    from marketdata.bundled import STOCKS_FILE
    from strategies.library import parameters_validate, strategy_weights
    from workflow.demo import DEMO_STRATEGIES

    prices = pd.read_csv(STOCKS_FILE, index_col="Date", parse_dates=True).loc["2013-01-01":"2022-12-31"]
    configured = [(kind, parameters_validate(kind=kind, parameters=p)) for _, kind, p in DEMO_STRATEGIES]
    samples = []
    for _ in range(SIGNAL_RUNS):
        started = time.perf_counter()
        for kind, params in configured:
            strategy_weights(kind=kind, parameters=params, prices=prices)
        samples.append(time.perf_counter() - started)
    value = median(samples) * 1000
    name = f"signals, 4 demo strategies, {prices.shape[1]} symbols x {len(prices)} sessions (all dates)"
    return [result(name, value, "ms", "<1000 ms", value < 1000)]


class _Rollback(Exception):
    pass


def _bench_load() -> list[dict]:
    from django.db import transaction

    from marketdata.bundled import bundled_load

    samples = []
    for _ in range(LOAD_RUNS):
        started = time.perf_counter()
        try:
            with transaction.atomic():
                bundled_load(dataset="demo")
                elapsed = time.perf_counter() - started
                raise _Rollback
        except _Rollback:
            samples.append(elapsed)
    value = median(samples)
    return [result("bundled demo dataset load (174,573 bars, PostgreSQL)", value, "s", "<20 s", value < 20)]


def run() -> list[dict]:
    return _bench_allocation() + _bench_signals() + _bench_load()
