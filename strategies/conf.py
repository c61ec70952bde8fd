"""Non-secret settings of the strategies app, read from the environment and validated loudly.

- ``ALPACA_DATA_FEED``: ``iex`` (default, free) or ``sip`` — the feed for Alpaca bar requests.
- ``ALPACA_DATA_URL``: optional override of Alpaca's market-data base URL (a proxy, or the local fake).
- ``ALLOCATION_METHOD``: default allocator method (``rank_aggregation``).
- ``ALLOCATION_GROSS``: total weight the allocator distributes, as a fraction of equity (default 1.0).
- ``ALLOCATION_STRATEGY_CAP``: default per-strategy cap (0.40) for new strategies.
- ``CORRELATION_THRESHOLD`` (0.70) and ``CORRELATION_LOOKBACK`` (60 sessions) for ``check_correlation``.
- ``DEMO_DATA``: load the bundled demo dataset in ``setup_demo`` (default true).
- ``DEMO_MARKET``: the demo market (bundled history re-dated to today, docs/CONCEPTS/demo-market.md) feeds
  the simulated exchange; default true in the embedded mode, false otherwise; never used with Alpaca.
- ``DEMO_BACKFILL_SESSIONS``: sessions the demo account back-fills on first start (default 60; 0 = none).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

ALLOCATION_METHODS = ("rank_aggregation", "inverse_vol", "equal_weight")


def _decimal(name: str, default: str, *, low: Decimal, high: Decimal) -> Decimal:
    raw = env.str(name, default=default)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None
    if not value.is_finite() or not (low < value <= high):
        raise ImproperlyConfigured(f"{name} must be in ({low}, {high}], not {raw!r}")
    return value


ALPACA_DATA_FEED = env.str("ALPACA_DATA_FEED", default="iex").lower()
if ALPACA_DATA_FEED not in ("iex", "sip"):
    raise ImproperlyConfigured(f"ALPACA_DATA_FEED must be iex or sip, not {ALPACA_DATA_FEED!r}")
ALPACA_DATA_URL = env.str("ALPACA_DATA_URL", default="") or None

ALLOCATION_METHOD = env.str("ALLOCATION_METHOD", default="rank_aggregation")
if ALLOCATION_METHOD not in ALLOCATION_METHODS:
    raise ImproperlyConfigured(f"ALLOCATION_METHOD must be one of {ALLOCATION_METHODS}, not {ALLOCATION_METHOD!r}")
ALLOCATION_GROSS = _decimal("ALLOCATION_GROSS", "1.0", low=Decimal(0), high=Decimal(4))
ALLOCATION_STRATEGY_CAP = _decimal("ALLOCATION_STRATEGY_CAP", "0.40", low=Decimal(0), high=Decimal(1))
CORRELATION_THRESHOLD = float(_decimal("CORRELATION_THRESHOLD", "0.70", low=Decimal(-1), high=Decimal(1)))
CORRELATION_LOOKBACK = env.int("CORRELATION_LOOKBACK", default=60)
if not 10 <= CORRELATION_LOOKBACK <= 1000:
    raise ImproperlyConfigured(f"CORRELATION_LOOKBACK must be between 10 and 1000, not {CORRELATION_LOOKBACK}")
DEMO_DATA = env.bool("DEMO_DATA", default=True)
DEMO_MARKET = env.bool("DEMO_MARKET", default=env.str("DJANGO_ENV", default="embedded") == "embedded")
DEMO_BACKFILL_SESSIONS = env.int("DEMO_BACKFILL_SESSIONS", default=60)
if not 0 <= DEMO_BACKFILL_SESSIONS <= 250:
    raise ImproperlyConfigured(f"DEMO_BACKFILL_SESSIONS must be between 0 and 250, not {DEMO_BACKFILL_SESSIONS}")

# --- daily workflow (see docs/CONCEPTS/daily-workflow.md) ----------------------------------------------
# Orders whose notional is above this go through TWAP (orders.slicing); 0 disables TWAP.
REBALANCE_TWAP_NOTIONAL = _decimal("REBALANCE_TWAP_NOTIONAL", "20000", low=Decimal(-1), high=Decimal(10) ** 12)
REBALANCE_TWAP_SLICES = env.int("REBALANCE_TWAP_SLICES", default=7)
if not 1 <= REBALANCE_TWAP_SLICES <= 60:
    raise ImproperlyConfigured("REBALANCE_TWAP_SLICES must be between 1 and 60")
# A trade smaller than max(notional, fraction × equity) is skipped (no churn on tiny drifts).
REBALANCE_MIN_TRADE_NOTIONAL = _decimal("REBALANCE_MIN_TRADE_NOTIONAL", "100", low=Decimal(-1), high=Decimal(10) ** 9)
REBALANCE_MIN_TRADE_FRACTION = _decimal("REBALANCE_MIN_TRADE_FRACTION", "0.005", low=Decimal(-1), high=Decimal(1))
# Whole shares unless this is on *and* the asset is fractionable.
REBALANCE_FRACTIONAL = env.bool("REBALANCE_FRACTIONAL", default=False)
# Minutes before the (possibly early) close at which the rebalance runs.
REBALANCE_MINUTES_BEFORE_CLOSE = env.int("REBALANCE_MINUTES_BEFORE_CLOSE", default=15)
if not 1 <= REBALANCE_MINUTES_BEFORE_CLOSE <= 120:
    raise ImproperlyConfigured("REBALANCE_MINUTES_BEFORE_CLOSE must be between 1 and 120")
# Submission: a transient broker error (429, outage) on one order is retried this many times with
# exponential back-off from REBALANCE_RETRY_BACKOFF_SECONDS; then the step fails, the run is marked
# failed with an alert, and re-running the day (the tick does it within its grace period) submits
# only what is missing. Orders beyond the per-minute limits wait for the next minute (at most
# REBALANCE_RATE_WAIT_MINUTES minutes for one order).
REBALANCE_SUBMIT_RETRIES = env.int("REBALANCE_SUBMIT_RETRIES", default=3)
if not 0 <= REBALANCE_SUBMIT_RETRIES <= 10:
    raise ImproperlyConfigured("REBALANCE_SUBMIT_RETRIES must be between 0 and 10")
REBALANCE_RETRY_BACKOFF_SECONDS = float(_decimal("REBALANCE_RETRY_BACKOFF_SECONDS", "2", low=Decimal(0), high=Decimal(60)))
REBALANCE_RATE_WAIT_MINUTES = env.int("REBALANCE_RATE_WAIT_MINUTES", default=10)
if not 1 <= REBALANCE_RATE_WAIT_MINUTES <= 30:
    raise ImproperlyConfigured("REBALANCE_RATE_WAIT_MINUTES must be between 1 and 30")
# The data step fails when the latest bar is older than this many sessions before the run day.
REBALANCE_MAX_STALE_SESSIONS = env.int("REBALANCE_MAX_STALE_SESSIONS", default=1)
if not 0 <= REBALANCE_MAX_STALE_SESSIONS <= 10:
    raise ImproperlyConfigured("REBALANCE_MAX_STALE_SESSIONS must be between 0 and 10")

# --- performance (see docs/CONCEPTS/performance-metrics.md) --------------------------------------------
# Annual risk-free rate for Sharpe/Sortino, as a fraction (0.02 = 2 %); converted to a daily rate /252.
RISK_FREE_RATE = float(_decimal("RISK_FREE_RATE", "0", low=Decimal(-1), high=Decimal("0.5")))
