"""The one clock.

Every piece of code that needs "now" calls :func:`now`. It returns a timezone-aware UTC datetime.
Tests control it with ``time-machine`` (which also moves ``django.utils.timezone.now``) and replay
overrides it with :func:`use_clock`, so the same code runs live and in a simulated past.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from zoneinfo import ZoneInfo

from django.utils import timezone

NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC

_override: ContextVar[Callable[[], dt.datetime] | None] = ContextVar("clock_override", default=None)


def now() -> dt.datetime:
    """Current time, tz-aware UTC."""
    source = _override.get()
    value = source() if source is not None else timezone.now()
    if value.tzinfo is None:
        raise ValueError("clock returned a naive datetime")
    return value.astimezone(UTC)


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
