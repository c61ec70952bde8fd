"""TWAP benchmarks: plan() for 390 slices (budget < 1 ms, aim < 0.2 ms)."""

from __future__ import annotations

import datetime as dt
import timeit
from decimal import Decimal

from bench.util import median, result


def run() -> list[dict]:
    from orders.twap import plan

    start = dt.datetime(2025, 3, 3, 14, 30, tzinfo=dt.UTC)
    horizon = dt.timedelta(minutes=390)
    out = []
    for label, qty in (("integer 100,000 shares", Decimal(100_000)), ("fractional 1234.567891234", Decimal("1234.567891234"))):
        timer = timeit.Timer(lambda qty=qty: plan(total_qty=qty, n_slices=390, horizon=horizon, start=start))
        samples = [t / 50 * 1000 for t in timer.repeat(repeat=30, number=50)]
        value = median(samples)
        out.append(result(f"TWAP plan() 390 slices, {label} (median)", value, "ms", "<1 ms", value < 1.0))
    return out
