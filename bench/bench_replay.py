"""Replay benchmarks: the full pipeline (workflow, gateway, risk checks, simulated exchange, fills,
positions, tax lots) over the bundled 20-stock file with the SMA crossover strategy, on PostgreSQL.

Budget (SPEC §5): one year × 20 symbols < 60 s; aim 2003-2022 in ≤ 9.8 s. Scaling: a quarter and a
year with 20 symbols, and a year with 5 symbols (the cost follows the number of orders, not of days:
days without trades never touch the database). One run each (each is seconds long and deterministic).
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

from bench.util import result

SYMBOLS_5 = ["AAPL", "JNJ", "KO", "XOM", "WMT"]


def _replay(start: dt.date, end: dt.date, symbols: list[str] | None) -> tuple[float, int, int]:
    from strategies.replay import replay_run

    started = time.perf_counter()
    outcome = replay_run(start=start, end=end, symbols=symbols, strategies=["sma-crossover"], capital=Decimal("100000"))
    return time.perf_counter() - started, outcome.trades, len(outcome.equity)


def run() -> list[dict]:
    from django.core.cache import cache

    from risk.state import CACHE_KEY
    from strategies.bundled import bundled_load, demo_loaded

    if not demo_loaded():
        bundled_load(dataset="demo")
    cache.delete(CACHE_KEY)
    out = []
    seconds, trades, days = _replay(dt.date(2011, 1, 1), dt.date(2011, 12, 31), None)
    out.append(result(f"replay 1 year × 20 symbols, SMA crossover, full pipeline ({trades} orders, {days} days)",
                      seconds, "s", "<60 s", seconds < 60))
    seconds, trades, days = _replay(dt.date(2011, 1, 1), dt.date(2011, 3, 31), None)
    out.append(result(f"replay 1 quarter × 20 symbols ({trades} orders, {days} days)", seconds, "s", "scaling", True))
    seconds, trades, days = _replay(dt.date(2011, 1, 1), dt.date(2011, 12, 31), SYMBOLS_5)
    out.append(result(f"replay 1 year × 5 symbols ({trades} orders, {days} days)", seconds, "s", "scaling", True))
    return out
