"""Non-secret settings of the daily workflow, performance and the demo set-up (``trading_site.lib.env``).

- ``DEMO_DATA``: load the bundled demo dataset in ``setup_demo`` (default true).
- ``DEMO_BACKFILL_SESSIONS``: sessions the demo account back-fills on first start (default 60; 0 = no trading back-filled,
  the stored history is still re-dated up to the last finished session).
- ``REBALANCE_*``: the rebalance chain (docs/CONCEPTS/daily-workflow.md), below.
- ``RISK_FREE_RATE``: annual risk-free rate for Sharpe/Sortino (docs/CONCEPTS/performance-metrics.md).
"""

from __future__ import annotations

from decimal import Decimal

from trading_site.lib.env import env_bool, env_decimal, env_float, env_int

DEMO_DATA = env_bool("DEMO_DATA", True)
DEMO_BACKFILL_SESSIONS = env_int("DEMO_BACKFILL_SESSIONS", 60, low=0, high=250)

# --- daily workflow (see docs/CONCEPTS/daily-workflow.md) ----------------------------------------------
# Orders whose notional is above this go through TWAP (orders.slicing); 0 disables TWAP.
REBALANCE_TWAP_NOTIONAL = env_decimal("REBALANCE_TWAP_NOTIONAL", "20000", low=Decimal(-1), high=Decimal(10) ** 12)
REBALANCE_TWAP_SLICES = env_int("REBALANCE_TWAP_SLICES", 7, low=1, high=60)
# A trade smaller than max(notional, fraction × equity) is skipped (no churn on tiny drifts).
REBALANCE_MIN_TRADE_NOTIONAL = env_decimal("REBALANCE_MIN_TRADE_NOTIONAL", "100", low=Decimal(-1), high=Decimal(10) ** 9)
REBALANCE_MIN_TRADE_FRACTION = env_decimal("REBALANCE_MIN_TRADE_FRACTION", "0.005", low=Decimal(-1), high=Decimal(1))
# Whole shares unless this is on *and* the asset is fractionable.
REBALANCE_FRACTIONAL = env_bool("REBALANCE_FRACTIONAL", False)
# Minutes before the (possibly early) close at which the rebalance runs.
REBALANCE_MINUTES_BEFORE_CLOSE = env_int("REBALANCE_MINUTES_BEFORE_CLOSE", 15, low=1, high=120)
# Submission: a transient broker error (429, outage) on one order is retried this many times with
# exponential back-off from REBALANCE_RETRY_BACKOFF_SECONDS; then the step fails, the run is marked
# failed with an alert, and re-running the day (the tick does it within its grace period) submits
# only what is missing. Orders beyond the per-minute limits wait for the next minute (at most
# REBALANCE_RATE_WAIT_MINUTES minutes for one order).
REBALANCE_SUBMIT_RETRIES = env_int("REBALANCE_SUBMIT_RETRIES", 3, low=0, high=10)
REBALANCE_RETRY_BACKOFF_SECONDS = env_float("REBALANCE_RETRY_BACKOFF_SECONDS", "2", low=0, high=60)
REBALANCE_RATE_WAIT_MINUTES = env_int("REBALANCE_RATE_WAIT_MINUTES", 10, low=1, high=30)
# The data step fails when the latest bar is older than this many sessions before the run day.
REBALANCE_MAX_STALE_SESSIONS = env_int("REBALANCE_MAX_STALE_SESSIONS", 1, low=0, high=10)

# --- performance (see docs/CONCEPTS/performance-metrics.md) --------------------------------------------
# Annual risk-free rate for Sharpe/Sortino, as a fraction (0.02 = 2 %); converted to a daily rate /252.
RISK_FREE_RATE = env_float("RISK_FREE_RATE", "0", low=-1, high=0.5)
