"""Data-quality gates over stored bars. Each gate returns findings; none of them writes.

- **large moves**: a close-to-close move above 30% (configurable) that no corporate action on that
  session explains. A split with ex-date t explains the move when the split-adjusted move
  ``close[t] * factor / close[t-1] - 1`` is back within the threshold; such moves are reported as
  *explained*, not flagged.
- **gaps**: NYSE sessions (exchange_calendars ``XNYS``) between a symbol's first and last bar that
  have no bar, and bars on dates that are not sessions.
- **staleness**: the latest bar is older than the previous session (the last session before today in
  New York), so the data was not refreshed.
"""

from __future__ import annotations

import datetime as dt
import functools
import warnings
from dataclasses import dataclass
from decimal import Decimal

import exchange_calendars as xcals
import pandas as pd
from django.db.models import Max

from marketdata.models import Bar, CorporateAction
from trading_site.lib import clock

CALENDAR = "XNYS"
DEFAULT_MOVE_THRESHOLD = Decimal("0.30")


@dataclass(frozen=True, slots=True)
class Finding:
    check: str  # large_move | large_move_explained | gap | off_calendar | stale
    symbol: str
    session: dt.date
    detail: str
    value: float | None = None


@functools.lru_cache(maxsize=1)
def nyse_calendar() -> xcals.ExchangeCalendar:
    """XNYS from 1990 (the bundled data's first year) to the calendar's default horizon."""
    with warnings.catch_warnings():
        # exchange_calendars trips a pandas 3.1 deprecation while building its tables; not ours to fix.
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        return xcals.get_calendar(CALENDAR, start="1990-01-01")


def _sessions(start: dt.date, end: dt.date) -> pd.DatetimeIndex:
    return nyse_calendar().sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))


def quality_large_moves(
    *, symbols: list[str] | None = None, threshold: Decimal = DEFAULT_MOVE_THRESHOLD
) -> list[Finding]:
    """Moves above ``threshold``: ``large_move`` when unexplained, ``large_move_explained`` when a split explains it."""
    qs = Bar.objects.all()
    if symbols is not None:
        qs = qs.filter(asset__symbol__in=[s.upper() for s in symbols])
    splits: dict[tuple[str, dt.date], Decimal] = {
        (sym, ex): r_to / r_from
        for sym, ex, r_from, r_to in CorporateAction.objects.filter(kind=CorporateAction.Kind.SPLIT).values_list(
            "asset__symbol", "ex_date", "ratio_from", "ratio_to"
        )
    }
    findings: list[Finding] = []
    previous_symbol, previous_close = None, None
    for symbol, session, close in qs.order_by("asset__symbol", "session").values_list(
        "asset__symbol", "session", "close"
    ):
        if symbol == previous_symbol and previous_close:
            move = close / previous_close - 1
            if abs(move) > threshold:
                factor = splits.get((symbol, session))
                adjusted = close * factor / previous_close - 1 if factor else None
                if adjusted is not None and abs(adjusted) <= threshold:
                    findings.append(
                        Finding(
                            "large_move_explained",
                            symbol,
                            session,
                            f"{move:+.1%} explained by a {factor}:1 split (adjusted move {adjusted:+.1%})",
                            float(move),
                        )
                    )
                else:
                    findings.append(
                        Finding(
                            "large_move",
                            symbol,
                            session,
                            f"close moved {move:+.1%} with no corporate action",
                            float(move),
                        )
                    )
        previous_symbol, previous_close = symbol, close
    return findings


def quality_gaps(*, symbols: list[str] | None = None) -> list[Finding]:
    """Missing NYSE sessions inside each symbol's history, and bars on non-session dates."""
    qs = Bar.objects.all()
    if symbols is not None:
        qs = qs.filter(asset__symbol__in=[s.upper() for s in symbols])
    by_symbol: dict[str, list[dt.date]] = {}
    for symbol, session in qs.order_by("asset__symbol", "session").values_list("asset__symbol", "session"):
        by_symbol.setdefault(symbol, []).append(session)
    findings: list[Finding] = []
    for symbol, dates in by_symbol.items():
        have = pd.DatetimeIndex(pd.to_datetime(dates))
        expected = _sessions(dates[0], dates[-1])
        for missing in expected.difference(have):
            findings.append(Finding("gap", symbol, missing.date(), "no bar for an NYSE session"))
        for extra in have.difference(expected):
            findings.append(Finding("off_calendar", symbol, extra.date(), "bar on a date that is not an NYSE session"))
    return findings


def previous_session(*, today: dt.date) -> dt.date:
    """The last NYSE session strictly before ``today``."""
    calendar = nyse_calendar()
    return calendar.date_to_session(pd.Timestamp(today) - pd.Timedelta(days=1), direction="previous").date()


def quality_staleness(*, symbols: list[str] | None = None, today: dt.date | None = None) -> list[Finding]:
    """Symbols whose latest bar is older than the previous session (``today`` defaults to NY today)."""
    today = today or clock.today_ny()
    expected = previous_session(today=today)
    qs = Bar.objects.all()
    if symbols is not None:
        qs = qs.filter(asset__symbol__in=[s.upper() for s in symbols])
    findings = []
    for symbol, latest in (
        qs.values("asset__symbol")
        .annotate(latest=Max("session"))
        .values_list("asset__symbol", "latest")
        .order_by("asset__symbol")
    ):
        if latest < expected:
            findings.append(
                Finding("stale", symbol, latest, f"latest bar {latest} is older than the previous session {expected}")
            )
    return findings


def quality_report(*, symbols: list[str] | None = None, today: dt.date | None = None) -> list[Finding]:
    """All gates; explained moves are included so a reader sees why a big move was accepted."""
    return (
        quality_large_moves(symbols=symbols)
        + quality_gaps(symbols=symbols)
        + quality_staleness(symbols=symbols, today=today)
    )
