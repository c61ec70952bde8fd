"""The one clock.

Every piece of code that needs "now" calls :func:`now`. It returns a timezone-aware UTC datetime.
Tests control it with ``time-machine`` (which also moves ``django.utils.timezone.now``) and replay
overrides it with :func:`use_clock`, so the same code runs live and in a simulated past.

Demo fast mode (``DEMO_DAY_MINUTES=N``, embedded demo market only; docs/CONCEPTS/demo-market.md): the
platform clock plays one NYSE trading day every N wall-clock minutes. The first start writes the origin
(wall time and the first demo session: today's session if it has not closed yet, else the next one) to
``var/demo-clock.json`` so every process computes the same time; demo day k then runs from 09:25 to
16:25 New York time of the k-th session from there, linearly over its N minutes. The market clock, the
beat's workflow ticks, orders and the intraday path all read it. Liveness (heartbeats and their age)
reads :func:`wall_now`, since a process is alive in real seconds, not in demo minutes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from zoneinfo import ZoneInfo

from django.utils import timezone

NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC

_override: ContextVar[Callable[[], dt.datetime] | None] = ContextVar("clock_override", default=None)


def now() -> dt.datetime:
    """Current time, tz-aware UTC."""
    source = _override.get()
    if source is not None:
        value = source()
    else:
        value = timezone.now()
        if _demo_day_minutes():
            value = _demo_time(value)
    if value.tzinfo is None:
        raise ValueError("clock returned a naive datetime")
    return value.astimezone(UTC)


def wall_now() -> dt.datetime:
    """Real time, for liveness only (heartbeats): equal to :func:`now` unless demo fast mode runs."""
    return timezone.now().astimezone(UTC)


def speed() -> float:
    """Platform seconds per wall-clock second: 1, or a demo day's span over DEMO_DAY_MINUTES."""
    minutes = _demo_day_minutes()
    return 1.0 if not minutes else DEMO_DAY_SPAN / dt.timedelta(minutes=minutes)


# --- demo fast mode ------------------------------------------------------------------------------------
DEMO_DAY_START = dt.time(9, 25)
DEMO_DAY_SPAN = dt.timedelta(hours=7)  # 09:25 → 16:25: the open, the rebalance, the close and its report
_demo_config: list = []


def _demo_day_minutes() -> float:
    if not _demo_config:
        from django.conf import settings

        _demo_config.append(float(getattr(settings, "DEMO_DAY_MINUTES", 0) or 0))
    return _demo_config[0]


@functools.cache
def _demo_origin() -> tuple[dt.datetime, tuple[dt.date, ...]]:
    """(wall origin, the NYSE sessions from the first demo session on), shared through var/."""
    import exchange_calendars as xcals
    import pandas as pd
    from django.conf import settings

    path = Path(settings.VAR_DIR) / "demo-clock.json"
    wall = timezone.now().astimezone(UTC)
    cal = xcals.get_calendar("XNYS", start=(wall - dt.timedelta(days=10)).date().isoformat())
    if not path.exists():
        ts = pd.Timestamp(wall)
        first = cal.minute_to_future_session(ts) if not cal.is_open_on_minute(ts) else cal.minute_to_session(ts)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"wall": wall.isoformat(), "first_session": first.date().isoformat()}))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)  # atomic: the first process to start wins, the others read its origin
        tmp.unlink()
    data = json.loads(path.read_text())
    origin = dt.datetime.fromisoformat(data["wall"])
    first = pd.Timestamp(data["first_session"])
    sessions = tuple(d.date() for d in cal.sessions[cal.sessions >= first])
    return origin, sessions


def _demo_time(wall: dt.datetime) -> dt.datetime:
    origin, sessions = _demo_origin()
    day_seconds = _demo_day_minutes() * 60
    k, into = divmod(max((wall - origin).total_seconds(), 0.0), day_seconds)
    session = sessions[min(int(k), len(sessions) - 1)]
    start = dt.datetime.combine(session, DEMO_DAY_START, tzinfo=NEW_YORK)
    return start + DEMO_DAY_SPAN * (into / day_seconds)


def now_ny() -> dt.datetime:
    """Current time in America/New_York (for session logic only; store UTC)."""
    return now().astimezone(NEW_YORK)


def today_ny() -> dt.date:
    return now_ny().date()


@contextlib.contextmanager
def use_clock(source: Callable[[], dt.datetime]) -> Iterator[None]:
    """Run a block with another time source (replay's simulated clock)."""
    token = _override.set(source)
    try:
        yield
    finally:
        _override.reset(token)


class SimulatedClock:
    """A settable clock for replay: ``with use_clock(sim): sim.set(t) ...``."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs a tz-aware start")
        self._now = start

    def __call__(self) -> dt.datetime:
        return self._now

    def set(self, value: dt.datetime) -> None:
        if value.tzinfo is None:
            raise ValueError("SimulatedClock needs tz-aware datetimes")
        self._now = value

    def advance(self, delta: dt.timedelta) -> None:
        self._now = self._now + delta
