"""Stored replays: create a :class:`~strategies.models.ReplayRun`, execute it (CLI or Celery task), and
the report figures the console and the CLI's HTML/JSON output share.

- :func:`replay_create` validates the request (a bad date, capital, method, strategy or symbol is a
  :class:`~workflow.replay.ReplayInputError` and stores nothing), stores the run as ``queued`` with
  the code version, and audits who asked;
- :func:`replay_execute` runs it (``running`` → ``completed`` or ``failed`` with the error), writing
  progress (sessions done / total) to the row at most once a second, so the console's progress bar
  and the CLI show the percentage and the time left;
- :func:`report_data` derives the drawdown and monthly returns from the stored curves.

The run's own writes to the live database are this one row, which nothing in live trading reads.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import subprocess
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from django.conf import settings

from strategies import conf as strategy_conf
from strategies.allocation import METHODS
from trading_site.audit import action_record
from trading_site.lib import clock
from trading_site.lib.actors import Actor
from trading_site.lib.money import DecimalInputError, parse_money
from workflow.models import ReplayRun
from workflow.replay import ReplayInputError, replay_run, strategy_specs
from workflow.replay_store import live_connection

logger = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 1.0
EARLIEST = dt.date(1990, 1, 1)


@functools.cache
def code_version() -> str:
    """The commit the code runs from (``git rev-parse``), else ``unknown``."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=Path(settings.BASE_DIR), capture_output=True,
            text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _date(value: object, field: str) -> dt.date:
    if isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise ReplayInputError(f"{field} is not a date (YYYY-MM-DD)", fields={field: str(value)[:40]}) from None
    if not EARLIEST <= day <= clock.today_ny():
        raise ReplayInputError(f"{field} must be between {EARLIEST} and today", fields={field: day.isoformat()})
    return day


def _capital(value: object) -> Decimal:
    """The one strict number parser (ASCII digits, no 1_0/NaN/exponents), then positive, in cents."""
    try:
        amount = parse_money(value, field="capital")
    except DecimalInputError:
        amount = None
    if amount is None or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise ReplayInputError("capital must be a positive amount in dollars (e.g. 100000 or 2500.50)",
                               fields={"capital": str(value)[:40]})
    return amount.quantize(Decimal("0.01"))


def _names(value: object) -> list[str]:
    if value is None or value == "":
        return []
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return sorted({str(v).strip() for v in items if str(v).strip()})


def replay_create(
    *, actor: Actor, start: object, end: object, strategies: object = None, symbols: object = None,
    capital: object = "100000", method: str | None = None, reason: str = "",
) -> ReplayRun:
    """Validate and store a queued replay. Raises :class:`ReplayInputError` (nothing stored) on bad input."""

    start_day, end_day = _date(start, "start"), _date(end, "end")
    if start_day > end_day:
        raise ReplayInputError("start must not be after end", fields={"start": start_day.isoformat()})
    method = method or strategy_conf.ALLOCATION_METHOD
    if method not in METHODS:
        raise ReplayInputError(f"unknown method {method!r}", fields={"method": f"one of {', '.join(METHODS)}"})
    names, wanted = _names(strategies), _names(symbols)
    specs = strategy_specs(names or None, wanted or None)  # unknown strategies or symbols: refused here
    run = ReplayRun.objects.create(
        start=start_day, end=end_day, created_at=clock.now(), code_version=code_version(),
        started_by=actor if getattr(actor, "is_authenticated", False) else None,
        parameters={"strategies": [s.name for s in specs], "symbols": [s.upper() for s in wanted],
                    "capital": str(_capital(capital)), "method": method},
    )
    action_record(actor=actor if getattr(actor, "is_authenticated", False) else None, action="replay.start",
                  target=run, reason=reason, data={"start": start_day.isoformat(), "end": end_day.isoformat(),
                                                   **run.parameters})
    return run


def replay_execute(*, run_id: int, progress: Callable[[int, int], None] | None = None) -> ReplayRun:
    """Run a queued replay and store its results (or its error). Returns the row as stored."""
    claimed = ReplayRun.objects.filter(pk=run_id, status=ReplayRun.Status.QUEUED).update(
        status=ReplayRun.Status.RUNNING, started_at=clock.now()
    )
    run = ReplayRun.objects.get(pk=run_id)
    if not claimed:
        return run  # already running or done (a duplicated task delivery)
    params = run.parameters
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= PROGRESS_EVERY_SECONDS:
            last[0] = now
            # A short autocommit UPDATE of this row on the live connection (not the store's).
            ReplayRun.objects.filter(pk=run_id).update(progress_done=done, progress_total=total)
        if progress is not None:
            progress(done, total)

    started = time.perf_counter()
    try:
        result = replay_run(
            start=run.start, end=run.end, strategies=params.get("strategies") or None,
            symbols=params.get("symbols") or None, capital=Decimal(params.get("capital", "100000")),
            method=params.get("method"), progress=_on_live(report),
        )
    except Exception as exc:  # any failure is the run's outcome, stored for the console
        logger.exception("replay %s failed", run_id)
        ReplayRun.objects.filter(pk=run_id).update(
            status=ReplayRun.Status.FAILED, finished_at=clock.now(), error=f"{type(exc).__name__}: {exc}"[:2000],
            seconds=time.perf_counter() - started,
        )
        raise
    data = result.as_json()
    ReplayRun.objects.filter(pk=run_id).update(
        status=ReplayRun.Status.COMPLETED, finished_at=clock.now(), seconds=time.perf_counter() - started,
        data_fingerprint=result.data_fingerprint, store_path=result.store_path,
        final_equity=Decimal(data["final_equity"]), final_cash=Decimal(data["final_cash"]),
        realized_pnl=Decimal(data["realized_pnl"]), orders=result.trades, metrics=data["metrics"],
        equity_curve=data["equity_curve"], benchmark_curve=data["benchmark_curve"], trades=result.trade_rows,
        attribution=result.attribution, tca=result.tca,
        consistency=result.consistency, progress_done=len(result.equity), progress_total=len(result.equity),
    )
    return ReplayRun.objects.get(pk=run_id)


def _on_live(fn: Callable[[int, int], None]) -> Callable[[int, int], None]:
    """Call ``fn`` with the live database as this thread's connection (the replay's store is the
    ``default`` connection while the replay runs)."""

    def call(done: int, total: int) -> None:
        with live_connection():
            fn(done, total)

    return call


def report_data(run: ReplayRun) -> dict:
    """What the report shows besides the stored figures: drawdown and monthly returns from the curve."""
    drawdown, monthly = [], []
    peak = None
    month_start = month_key = None
    previous = None
    for point in run.equity_curve:
        value = point["equity"]
        peak = value if peak is None else max(peak, value)
        drawdown.append({"date": point["date"], "drawdown": round(value / peak - 1, 6) if peak else 0.0})
        key = point["date"][:7]
        if key != month_key:
            if month_key is not None:
                monthly.append({"month": month_key, "return": round(previous / month_start - 1, 6)})
            month_key, month_start = key, previous if previous is not None else value
        previous = value
    if month_key is not None and month_start:
        monthly.append({"month": month_key, "return": round(previous / month_start - 1, 6)})
    return {"drawdown": drawdown, "monthly": monthly}


def progress_text(*, done: int, total: int, elapsed: float) -> str:
    """``42.0% · 1:23 left`` (time left from the pace so far)."""
    if not total:
        return "starting"
    pct = 100.0 * done / total
    if done == 0:
        return f"{pct:.1f}%"
    left = elapsed * (total - done) / done
    return f"{pct:.1f}% · {int(left // 60)}:{int(left % 60):02d} left"


def run_json(run: ReplayRun) -> dict:
    """The stored run as the CLI's ``--json`` and the report's JSON download give it."""
    return {
        "id": run.pk, "status": run.status, "start": run.start.isoformat(), "end": run.end.isoformat(),
        "parameters": run.parameters, "capital": run.parameters.get("capital"),
        "strategies": run.parameters.get("strategies", []), "code_version": run.code_version,
        "data_fingerprint": run.data_fingerprint, "seconds": run.seconds, "error": run.error,
        "final_equity": None if run.final_equity is None else str(run.final_equity),
        "final_cash": None if run.final_cash is None else str(run.final_cash),
        "realized_pnl": None if run.realized_pnl is None else str(run.realized_pnl),
        "trades": run.orders, "metrics": run.metrics, "equity_curve": run.equity_curve,
        "benchmark_curve": run.benchmark_curve, "attribution": run.attribution, "tca": run.tca,
        "consistency": run.consistency, "trade_list": run.trades, "store": run.store_path, **report_data(run),
    }


def svg_polyline(series: list[tuple[str, float]], *, width: int = 900, height: int = 240) -> str:
    """SVG ``points`` of a series scaled into the box (the HTML report's charts need no script)."""
    if not series:
        return ""
    values = [v for _, v in series]
    return _points(series, min(values), max(values), width=width, height=height)


def report_html(run: ReplayRun) -> str:
    """A self-contained HTML report (no script, no external file): what ``--report x.html`` writes."""
    from django.template.loader import render_to_string

    data = run_json(run)
    equity = [(p["date"], p["equity"]) for p in run.equity_curve]
    bench = [(p["date"], p["equity"]) for p in run.benchmark_curve]
    both = [v for _, v in equity + bench]
    low, high = (min(both), max(both)) if both else (0.0, 1.0)

    def scaled(series):  # equity and benchmark on one scale
        return _points(series, low, high)

    return render_to_string("console/replays/report_standalone.html", {
        "run": run, "data": data, "equity_points": scaled(equity), "bench_points": scaled(bench),
        "drawdown_points": svg_polyline([(p["date"], p["drawdown"]) for p in data["drawdown"]], height=120),
    })


def _points(series: list[tuple[str, float]], low: float, high: float, *, width: int = 900, height: int = 240) -> str:
    span = (high - low) or 1.0
    step = width / max(len(series) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - (v - low) / span * height:.1f}" for i, (_, v) in enumerate(series))
