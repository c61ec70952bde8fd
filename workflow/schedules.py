"""Beat entries of the daily workflow (New York time; CELERY_TIMEZONE is America/New_York).

Crontab fires a little more often than the workflow acts; each task asks :func:`due` whether *now*
is its moment on an NYSE trading day (exchange_calendars "XNYS"):

- market open check: 09:30 on sessions;
- rebalance: ``REBALANCE_MINUTES_BEFORE_CLOSE`` (15) minutes before the session close — 15:45, or
  12:45 on early-close days (the crontab fires at both minutes, only the right one acts);
- market close workflow: 5 minutes after the close — 16:05, or 13:05 on early-close days.

Weekends and holidays never act. A task that fires late (a busy worker) still acts within
:data:`GRACE`; the rebalance run's unique day makes a second firing harmless.
"""

from __future__ import annotations

import datetime as dt

from celery.schedules import crontab

from marketdata import market_clock
from trading_site.lib import clock, queues
from workflow import conf

GRACE = dt.timedelta(minutes=10)
CLOSE_DELAY = dt.timedelta(minutes=5)
KINDS = ("market_open", "rebalance", "market_close")


def moment(kind: str, day: dt.date) -> dt.datetime | None:
    """When ``kind`` should act on ``day`` (UTC), or None when ``day`` is not a trading day."""

    session = market_clock.session_for(day)
    if session is None:
        return None
    if kind == "market_open":
        return session.open
    if kind == "rebalance":
        return session.close - dt.timedelta(minutes=conf.REBALANCE_MINUTES_BEFORE_CLOSE)
    if kind == "market_close":
        return session.close + CLOSE_DELAY
    raise ValueError(f"unknown workflow kind {kind!r}")


def due(kind: str, now: dt.datetime | None = None) -> dt.date | None:
    """The New York trading day whose ``kind`` moment is now (within the grace period), else None."""
    now = now or clock.now()
    day = now.astimezone(clock.NEW_YORK).date()
    target = moment(kind, day)
    if target is None or not target <= now < target + GRACE:
        return None
    return day


def before_closes(minutes: int) -> crontab:
    """Weekdays at ``minutes`` before the early (13:00) and the regular (16:00) close, New York time."""
    hours, minute = zip(*(divmod(close * 60 - minutes, 60) for close in (13, 16)), strict=True)
    return crontab(minute=str(minute[0]), hour=",".join(map(str, hours)), day_of_week="mon-fri")


ENTRIES: dict[str, dict] = {
    "workflow-market-open": {
        "task": "workflow.market_open_tick",
        "schedule": crontab(minute="30", hour="9", day_of_week="mon-fri"),
        "options": {"queue": queues.DEFAULT, "expires": 600},
    },
    "workflow-rebalance": {
        "task": "workflow.rebalance_tick",
        # derived from the setting: a fixed minute would never meet due() for another offset
        "schedule": before_closes(conf.REBALANCE_MINUTES_BEFORE_CLOSE),
        "options": {"queue": queues.DEFAULT, "expires": 600},
    },
    "workflow-market-close": {
        "task": "workflow.market_close_tick",
        "schedule": crontab(minute="5", hour="13,16", day_of_week="mon-fri"),
        "options": {"queue": queues.REPORTS, "expires": 600},
    },
}


# Demo fast mode (DEMO_DAY_MINUTES): a demo day lasts minutes, so the workflow follows the demo clock
# through a frequent tick with catch-up (workflow.demo.demo_day_advance) instead of wall-clock crontabs.
DEMO_FAST_ENTRY = {
    "task": "workflow.demo_day_tick",
    "schedule": 2.0,
    "options": {"queue": queues.DEFAULT, "expires": 10},
}
