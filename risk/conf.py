"""Non-secret settings of the risk app, read with the one typed reader (``trading_site.lib.env``).

Business limits (notional caps, loss limits, stop percentages) live in the database
(:class:`risk.models.RiskLimits`) so admins change them with a reason and an audit trail; this module
only holds deployment knobs.
"""

from __future__ import annotations

from trading_site.lib.env import env_float, env_int, env_str

# Seconds the cached risk state (kill switch, breakers, limits, rollout) may be served from the cache.
# Every change bumps the state's generation after commit (risk/state.py), so the TTL is not what keeps it fresh.
STATE_CACHE_SECONDS = env_float("RISK_STATE_CACHE_SECONDS", 5.0, low=0)
# Redis key prefix of the shared rate windows (shared by every process of one deployment).
RATE_KEY_PREFIX = env_str("RISK_RATE_KEY_PREFIX", "trading:risk:rate:")
# Sliding window of the rate limiters, in seconds.
RATE_WINDOW_SECONDS = env_float("RISK_RATE_WINDOW_SECONDS", 60.0, low=0)
# Broker error burst breaker: this many errors within the window trips it.
BROKER_ERROR_BURST = env_int("RISK_BROKER_ERROR_BURST", 5, low=1)
BROKER_ERROR_WINDOW_SECONDS = env_float("RISK_BROKER_ERROR_WINDOW_SECONDS", 60.0, low=0)
# After a 429 from the broker no read (poll, lookup, account...) is sent for this many seconds (or the
# answer's Retry-After, if longer); submissions and cancels are not paused.
BROKER_429_PAUSE_SECONDS = env_float("RISK_BROKER_429_PAUSE_SECONDS", 5.0, low=0)
# Preflight: the kill switch must have been engaged and reset within this many days.
KILL_SWITCH_TEST_MAX_AGE_DAYS = env_int("RISK_KILL_SWITCH_TEST_MAX_AGE_DAYS", 30, low=1)
# Preflight: API keys must have been rotated within this many days.
KEY_MAX_AGE_DAYS = env_int("RISK_KEY_MAX_AGE_DAYS", 90, low=1)
# Preflight: a backup file newer than this many hours must exist in BACKUP_DIR.
BACKUP_DIR = env_str("BACKUP_DIR", "")
BACKUP_MAX_AGE_HOURS = env_int("RISK_BACKUP_MAX_AGE_HOURS", 48, low=1)
