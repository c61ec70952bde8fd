"""The demo steps run by ``make run`` (``manage.py setup_demo``): bundled data, one strategy of each kind,
and the demo market's warm start.

Idempotent and fast on every start: the data load is skipped when the demo dataset is present,
strategies are only created when missing (an operator's changes to them are kept), and the back-fill
only runs the demo sessions that have no market-close report yet.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from marketdata import demo_market, market_clock
from marketdata.bundled import bundled_load, demo_loaded, demo_symbols
from orders.selectors import price_cache_clear
from orders.slicing import slices_dispatch_due
from risk.orders_port import account_cache_clear
from strategies.models import Strategy
from strategies.services import strategy_create
from trading_site.lib import clock
from trading_site.lib.clock import SimulatedClock, use_clock
from workflow import conf, schedules
from workflow.daily import market_close_run, rebalance_run
from workflow.models import DailyPerformance

DEMO_STRATEGIES: list[tuple[str, str, dict]] = [
    ("sma-crossover", "sma_crossover", {"fast": 20, "slow": 50}),
    ("momentum", "momentum", {"lookback": 126, "skip": 21, "top_n": 5}),
    ("mean-reversion", "mean_reversion", {"window": 20, "entry_z": 1.0}),
    (
        "ensemble",
        "ensemble",
        {
            "members": [
                {"kind": "sma_crossover", "parameters": {"fast": 50, "slow": 200}, "weight": 1.0},
                {"kind": "momentum", "parameters": {"lookback": 252, "skip": 21, "top_n": 8}, "weight": 1.0},
            ]
        },
    ),
]


def demo_data_setup() -> str:
    notes = []
    loaded = demo_loaded()
    if not conf.DEMO_DATA:
        notes.append("bundled data disabled (DEMO_DATA=false)")
    elif loaded:
        notes.append("bundled data present")
    else:
        started = time.monotonic()
        summaries = bundled_load(dataset="demo")
        loaded = True
        notes.append(f"loaded {sum(s.bars for s in summaries)} bars in {time.monotonic() - started:.1f} s")
    created = []
    if loaded:  # strategies need the demo universe's bars
        # one query for which demo strategies exist; the file header is only read when one is missing
        present = set(Strategy.objects.filter(name__in=[n for n, _, _ in DEMO_STRATEGIES]).values_list("name", flat=True))
        missing = [(name, kind, parameters) for name, kind, parameters in DEMO_STRATEGIES if name not in present]
        symbols = demo_symbols() if missing else []
        for name, kind, parameters in missing:
            strategy_create(actor=None, name=name, kind=kind, parameters=parameters, symbols=symbols, reason="demo set-up")
            created.append(name)
    notes.append(f"strategies created: {', '.join(created)}" if created else "strategies present")
    return "; ".join(notes)


def demo_backfill(
    *, sessions: int | None = None, since: dt.date | None = None, log: Callable[[str], None] | None = None
) -> str:
    """Warm start: run the real daily workflow over the last ``sessions`` finished demo sessions.

    Each day runs on a simulated platform clock, as the beat would have run it: the rebalance at its
    moment (data step through the demo-market provider, signals, allocation, risk, orders through the
    gateway and the simulated exchange), the TWAP slices minute by minute until the close — what the
    once-a-second dispatch does live — and the market-close workflow (fills confirmed, leftovers
    canceled, account snapshot, daily report). Resumable and idempotent: a day with a market-close
    report is done and is never redone; a rebalance run is unique per day anyway. It runs before the
    platform's processes start (``setup_demo``), so nothing else dispatches or delivers meanwhile.
    """

    sessions = conf.DEMO_BACKFILL_SESSIONS if sessions is None else sessions
    if not demo_market.enabled():
        return "demo market off"
    if not demo_loaded():
        return "no back-fill"
    if sessions <= 0:
        # No trading back-filled, but the stored history still reaches the last finished session, as
        # the data step would have left it: charts start at today, and the stale-data breaker (which
        # refuses new buys during the session when bars lag) does not trip on a fresh platform.
        stored = demo_market.demo_bars_refresh(end=clock.today_ny())
        return f"no back-fill; history re-dated up to the last finished session ({stored} bars stored)"
    now = clock.now()
    finished = [d for d in demo_market.demo_sessions(end=clock.today_ny()) if demo_market.session_finished(d, now=now)]
    days = [d for d in finished[-sessions:] if since is None or d >= since]
    done = set(DailyPerformance.objects.filter(day__in=days).values_list("day", flat=True))
    todo = [d for d in days if d not in done]
    started = time.monotonic()
    sim = SimulatedClock(now)
    for i, day in enumerate(todo, start=1):
        close = market_clock.session_close(day)
        moment = schedules.moment("rebalance", day)
        with use_clock(sim):
            sim.set(moment)
            price_cache_clear()
            account_cache_clear()
            run = rebalance_run(day=day)
            t = moment
            while t < close:
                sim.set(t)
                price_cache_clear()
                slices_dispatch_due(now=t, lookahead=0)
                t += dt.timedelta(minutes=1)
            sim.set(schedules.moment("market_close", day))
            price_cache_clear()
            account_cache_clear()
            market_close_run(day=day)
        if log is not None:
            log(f"demo back-fill {i}/{len(todo)}: {day} ({demo_market.demo_label(day)}) rebalance {run.status}")
    if not todo:
        return f"back-fill complete ({len(days)} sessions)"
    return f"back-filled {len(todo)} session(s) in {time.monotonic() - started:.0f} s"


def demo_day_advance() -> dict:
    """Demo fast mode's workflow tick (every two wall-clock seconds from beat): the same daily workflow
    as the crontab entries, on the demo clock, with catch-up instead of a grace window.

    - once the current demo session reaches its rebalance moment (and before its close), the rebalance
      of that day runs live: its TWAP slices go out through the once-a-second dispatch, its fills over
      the trade stream;
    - every finished demo session without a market-close report (today's, once its close has passed,
      and any a busy worker skipped) is completed by :func:`demo_backfill` — so a day is never lost.

    One tick at a time (a cache lock): ticks queue faster than a rebalance takes.
    """
    from django.core.cache import cache

    if not cache.add("demo-day-advance", 1, timeout=300):
        return {"skipped": "another tick is running"}
    try:
        now = clock.now()
        day = clock.today_ny()
        result: dict = {"day": day.isoformat()}
        moment = schedules.moment("rebalance", day)
        if moment is not None and moment <= now and not demo_market.session_finished(day, now=now):
            result["rebalance"] = rebalance_run(day=day).status
        # complete every finished session of the last 20 without a report since the first report (a day
        # whose tick failed — SQLite busy, a restart — is retried by the next tick, never skipped)
        first = DailyPerformance.objects.order_by("day").values_list("day", flat=True).first()
        result["backfill"] = demo_backfill(sessions=20, since=first)
        return result
    finally:
        cache.delete("demo-day-advance")
