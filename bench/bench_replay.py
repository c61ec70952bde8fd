"""Replay benchmarks: the full pipeline (workflow, gateway, risk checks, simulated exchange, fills,
positions, tax lots) over the bundled 20-stock file with the SMA crossover strategy, each replay in a
database of its own (ADR 0019).

- 2003-2022 × 20 stocks: budget ≤ 60 s (aim ≤ 9.8 s, backtrader's in-memory time for the same window);
- growth: the cost per order and per session day at 1, 5, 10 and 20 years (windows ending 2022). It
  must grow linearly: the per-order cost of the 20-year window is at most 1.5 × that of 1 year;
- ten one-year replays back to back: the per-order cost of the last is at most 1.25 × the first's
  (no growth from leftovers of earlier replays).

One run per window (each is deterministic and seconds to minutes long); CPU seconds of the process
are reported beside the wall time, since the replay's database is in the process.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from decimal import Decimal

from bench.util import result

YEARS = (1, 5, 10, 20)
LAST_YEAR = 2022


def _replay(start: dt.date, end: dt.date) -> tuple[float, float, int, int]:
    from workflow.replay import replay_run

    wall, cpu = time.perf_counter(), time.process_time()
    outcome = replay_run(start=start, end=end, strategies=["sma-crossover"], capital=Decimal("100000"))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    os.remove(outcome.store_path)  # a benchmark keeps no store files
    # Each window is minutes long at worst: its figures are printed as soon as they are known.
    print(
        f"   replay {start}..{end}: {wall:.1f} s wall, {cpu:.1f} CPU-s, {outcome.trades} orders, "
        f"{len(outcome.equity)} days",
        flush=True,
    )
    return wall, cpu, outcome.trades, len(outcome.equity)


def run() -> list[dict]:
    from django.core.cache import cache

    from marketdata.bundled import bundled_load, demo_loaded
    from risk.state import CACHE_KEY

    if not demo_loaded():
        bundled_load(dataset="demo")
    cache.delete(CACHE_KEY)
    out = []
    per_order: dict[int, float] = {}
    for years in YEARS:
        seconds, cpu, trades, days = _replay(dt.date(LAST_YEAR - years + 1, 1, 1), dt.date(LAST_YEAR, 12, 31))
        per_order[years] = seconds / max(trades, 1)
        if years == 20:
            out.append(
                result(
                    f"replay 2003-2022 × 20 stocks, SMA crossover, full pipeline ({trades} orders, "
                    f"{days} days, {cpu:.1f} CPU-s; aim ≤ 9.8 s)",
                    seconds,
                    "s",
                    "≤60 s",
                    seconds <= 60,
                )
            )
        out.append(
            result(
                f"replay {years} year(s): cost per order ({trades} orders)",
                1000 * per_order[years],
                "ms",
                "linear growth",
                per_order[years] <= 1.5 * per_order[1],
            )
        )
        out.append(
            result(
                f"replay {years} year(s): cost per session day ({days} days)",
                1000 * seconds / days,
                "ms",
                "linear growth",
                True,
            )
        )
    costs = []
    for _ in range(10):
        seconds, _cpu, trades, _days = _replay(dt.date(2011, 1, 1), dt.date(2011, 12, 31))
        costs.append(seconds / max(trades, 1))
    out.append(
        result(
            "ten one-year replays back to back: per-order cost of the 10th ÷ the 1st",
            costs[-1] / costs[0],
            "ratio",
            "≤1.25",
            costs[-1] / costs[0] <= 1.25,
        )
    )
    return out
