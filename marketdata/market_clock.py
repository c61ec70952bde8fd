"""The market clock: NYSE sessions from exchange_calendars ("XNYS"), in UTC, with early closes.

Loaded once per process into plain dicts/lists so the order path answers ``is_open`` with a dict
lookup and two comparisons. Sessions are keyed by their New York date. Extended hours follow
Alpaca: pre-market from 04:00 New York time to the open, after-hours from the close until 20:00
(17:00 on early-close days, four hours after the close).

:func:`market_open_for_orders` applies the platform policy on top of the calendar: with the
simulated broker and ``SIM_MARKET_HOURS=always`` the market is always open (demos and tests at any
hour). TWAP and the daily workflow reuse :func:`session_close`, :func:`next_open`, :func:`next_close`.
"""

from __future__ import annotations

import bisect
import datetime as dt
import threading
from dataclasses import dataclass

from django.conf import settings

from marketdata import conf
from trading_site.lib.clock import NEW_YORK, UTC

PRE_MARKET_OPEN = dt.time(4, 0)
AFTER_HOURS_SPAN = dt.timedelta(hours=4)
_REGULAR_CLOSE = dt.time(16, 0)


@dataclass(frozen=True, slots=True)
class Session:
    date: dt.date  # New York date
    open: dt.datetime  # UTC
    close: dt.datetime  # UTC

    @property
    def early_close(self) -> bool:
        return self.close.astimezone(NEW_YORK).time() < _REGULAR_CLOSE

    @property
    def extended_open(self) -> dt.datetime:
        return dt.datetime.combine(self.date, PRE_MARKET_OPEN, tzinfo=NEW_YORK).astimezone(UTC)

    @property
    def extended_close(self) -> dt.datetime:
        return self.close + AFTER_HOURS_SPAN


class _Calendar:
    def __init__(self) -> None:
        import warnings

        import exchange_calendars as xc

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas deprecation noise from inside exchange_calendars
            cal = xc.get_calendar("XNYS", start=conf.CALENDAR_START, end=conf.CALENDAR_END)
            schedule = cal.schedule
        self.sessions: dict[dt.date, Session] = {}
        for label, opens, closes in zip(schedule.index, schedule["open"], schedule["close"], strict=True):
            day = label.date()
            self.sessions[day] = Session(date=day, open=opens.to_pydatetime(), close=closes.to_pydatetime())
        self.dates: list[dt.date] = sorted(self.sessions)


_lock = threading.Lock()
_calendar: _Calendar | None = None


def _cal() -> _Calendar:
    global _calendar
    if _calendar is None:
        with _lock:
            if _calendar is None:
                _calendar = _Calendar()
    return _calendar


def _check_aware(now: dt.datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("market clock needs a tz-aware datetime")


def session_for(day: dt.date) -> Session | None:
    """The session on a New York date, or None on weekends and holidays."""
    return _cal().sessions.get(day)


def is_session(day: dt.date) -> bool:
    return day in _cal().sessions


def session_close(day: dt.date) -> dt.datetime | None:
    """Close of the session on ``day`` in UTC (13:00 New York on early-close days)."""
    session = session_for(day)
    return None if session is None else session.close


def is_open(now: dt.datetime, *, extended: bool = False) -> bool:
    """True during regular hours (or extended hours when ``extended``) of a trading session."""
    _check_aware(now)
    session = _cal().sessions.get(now.astimezone(NEW_YORK).date())
    if session is None:
        return False
    if extended:
        return session.extended_open <= now < session.extended_close
    return session.open <= now < session.close


def _next_edge(now: dt.datetime, edge: str) -> dt.datetime:
    """The first session ``open`` or ``close`` (per ``edge``) strictly after ``now``, from today's session on."""
    _check_aware(now)
    cal = _cal()
    i = bisect.bisect_left(cal.dates, now.astimezone(NEW_YORK).date())
    for day in cal.dates[i:]:
        moment = getattr(cal.sessions[day], edge)
        if moment > now:
            return moment
    raise LookupError("no session after the calendar's range")


def next_open(now: dt.datetime) -> dt.datetime:
    """The next regular open strictly after ``now`` (UTC)."""
    return _next_edge(now, "open")


def next_close(now: dt.datetime) -> dt.datetime:
    """The close of the current session if open, else of the next session (UTC)."""
    return _next_edge(now, "close")


def current_or_previous_session(now: dt.datetime) -> dt.date:
    """The session whose date is the New York date of ``now``, or the last one before it."""
    _check_aware(now)
    cal = _cal()
    day = now.astimezone(NEW_YORK).date()
    i = bisect.bisect_right(cal.dates, day)
    if i == 0:
        raise LookupError("date before the calendar's range")
    return cal.dates[i - 1]


def last_completed_session(now: dt.datetime) -> dt.date:
    """The latest session whose close is at or before ``now`` (today's only after its close, early
    closes included): a daily bar of a later session is not final yet."""
    day = current_or_previous_session(now)
    close = session_close(day)
    return day if close is not None and close <= now else previous_session(day)


def previous_session(day: dt.date) -> dt.date:
    """The last session strictly before ``day``."""
    cal = _cal()
    i = bisect.bisect_left(cal.dates, day)
    if i == 0:
        raise LookupError("date before the calendar's range")
    return cal.dates[i - 1]


def sessions_window(*, ending: dt.date, count: int) -> list[dt.date]:
    """The last ``count`` sessions up to and including ``ending`` (holidays and weekends skipped)."""
    cal = _cal()
    i = bisect.bisect_right(cal.dates, ending)
    return cal.dates[max(0, i - count) : i]


def always_open() -> bool:
    """Platform policy: the simulated exchange may be configured to trade around the clock."""
    return settings.BROKER == "simulated" and settings.SIM_MARKET_HOURS == "always"


def market_open_for_orders(now: dt.datetime, *, extended: bool = False) -> bool:
    return always_open() or is_open(now, extended=extended)


def clock_status(now: dt.datetime) -> dict:
    """A summary for the status API and the account monitor."""
    session = session_for(now.astimezone(NEW_YORK).date())
    return {
        "is_open": is_open(now),
        "is_open_extended": is_open(now, extended=True),
        "always_open_policy": always_open(),
        "next_open": next_open(now).isoformat(),
        "next_close": next_close(now).isoformat(),
        "session": session.date.isoformat() if session else None,
        "early_close": bool(session and session.early_close),
    }
