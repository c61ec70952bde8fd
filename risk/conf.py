"""Non-secret settings of the risk app, read from the environment and validated at import.

Business limits (notional caps, loss limits, stop percentages) live in the database
(:class:`risk.models.RiskLimits`) so admins change them with a reason and an audit trail; this module
only holds deployment knobs.
"""

from __future__ import annotations

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()


def _positive_int(name: str, default: int) -> int:
    value = env.int(name, default=default)
    if value <= 0:
        raise ImproperlyConfigured(f"{name} must be a positive integer, not {value}")
    return value


def _positive_float(name: str, default: float) -> float:
    value = env.float(name, default=default)
    if value <= 0:
        raise ImproperlyConfigured(f"{name} must be positive, not {value}")
    return value


# Seconds the cached risk state (kill switch, breakers, limits, rollout) may be served from the cache.
# Every change bumps the state's generation after commit (risk/state.py), so the TTL is not what keeps it fresh.
STATE_CACHE_SECONDS = _positive_float("RISK_STATE_CACHE_SECONDS", 5.0)
# Redis key prefix of the shared rate windows (shared by every process of one deployment).
RATE_KEY_PREFIX = env.str("RISK_RATE_KEY_PREFIX", default="trading:risk:rate:")
# Sliding window of the rate limiters, in seconds.
RATE_WINDOW_SECONDS = _positive_float("RISK_RATE_WINDOW_SECONDS", 60.0)
# Broker error burst breaker: this many errors within the window trips it.
BROKER_ERROR_BURST = _positive_int("RISK_BROKER_ERROR_BURST", 5)
BROKER_ERROR_WINDOW_SECONDS = _positive_float("RISK_BROKER_ERROR_WINDOW_SECONDS", 60.0)
# After a 429 from the broker no read (poll, lookup, account...) is sent for this many seconds (or the
# answer's Retry-After, if longer); submissions and cancels are not paused.
BROKER_429_PAUSE_SECONDS = _positive_float("RISK_BROKER_429_PAUSE_SECONDS", 5.0)
# Preflight: the kill switch must have been engaged and reset within this many days.
KILL_SWITCH_TEST_MAX_AGE_DAYS = _positive_int("RISK_KILL_SWITCH_TEST_MAX_AGE_DAYS", 30)
# Preflight: API keys must have been rotated within this many days.
KEY_MAX_AGE_DAYS = _positive_int("RISK_KEY_MAX_AGE_DAYS", 90)
# Preflight: a backup file newer than this many hours must exist in BACKUP_DIR.
BACKUP_DIR = env.str("BACKUP_DIR", default="")
BACKUP_MAX_AGE_HOURS = _positive_int("RISK_BACKUP_MAX_AGE_HOURS", 48)
# Calendar range loaded from exchange_calendars (replays reach back to 1990).
CALENDAR_START = env.str("RISK_CALENDAR_START", default="1990-01-01")
CALENDAR_END = env.str("RISK_CALENDAR_END", default="2032-12-31")
