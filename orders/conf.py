"""Orders configuration (non-secret), read with the one typed reader (``trading_site.lib.env``).

``BROKER`` and ``ALPACA_PAPER`` live in the platform settings; everything specific to execution is
here. Values are read once at import; tests override attributes of :data:`conf` directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured

from trading_site.lib.env import env_decimal, env_float, env_int, env_str


def _regex(name: str) -> str:
    raw = env_str(name)
    try:
        re.compile(raw)
    except re.error as exc:
        raise ImproperlyConfigured(f"{name} must be a regular expression: {exc}") from exc
    return raw


@dataclass
class OrdersConf:
    # Stale-order cleanup: cancel day orders still open after this many minutes.
    stale_order_minutes: int
    # An order left in ``submitting``/``unknown`` this long is resolved against the broker. An order
    # younger than resolve_grace_seconds() (this, but never less than the broker's worst-case answer
    # time) is never judged "not at broker".
    unknown_grace_seconds: int
    # Reconciliation looks failed "not at broker" orders of this many days up again (late arrivals).
    not_at_broker_lookback_days: int
    reconcile_every_seconds: int
    sim_tick_every_seconds: int
    # TWAP: a slice left in ``submitting`` this long is recovered by the sweeper (ask the broker, resend).
    twap_sweep_grace_seconds: int
    # TWAP: the per-second dispatcher also takes slices due within this many seconds and sends each
    # at its time (sleeping inside the task), so lateness is processing time, not the beat period.
    twap_lookahead_seconds: float
    # TWAP: a failed child is sent again under its own client_order_id at most this many times
    # (backing off 2, 4, … 60 s) before the parent finishes short of it (orders/slicing.py).
    twap_resend_max: int
    # Simulated fill model.
    sim_seed: int
    sim_slippage_bps: Decimal
    sim_impact_coef_bps: Decimal
    sim_commission_per_share: Decimal
    sim_commission_min: Decimal
    sim_participation: Decimal
    sim_default_adv: Decimal
    sim_reject_rate: float
    sim_latency_ms: int
    # Fault drill: submits whose client_order_id matches this regular expression fail like a dropped
    # connection (BrokerUnavailable) before the exchange records them. Empty = off.
    sim_fail_submit_match: str
    sim_starting_cash: Decimal
    # Alpaca adapter.
    alpaca_url_override: str
    alpaca_stream_url_override: str
    alpaca_data_url_override: str
    alpaca_timeout_seconds: float
    alpaca_retry_attempts: int
    alpaca_retry_wait_seconds: int
    trade_stream_poll_seconds: int
    # Trade-stream process with the simulated exchange: how often it looks at the exchange's outbox
    # when the last look found nothing (a busy outbox is drained without waiting).
    sim_stream_poll_seconds: float


def load() -> OrdersConf:
    return OrdersConf(
        stale_order_minutes=env_int("ORDERS_STALE_MINUTES", 15, low=1, high=7 * 24 * 60),
        unknown_grace_seconds=env_int("ORDERS_UNKNOWN_GRACE_SECONDS", 30, low=0, high=3600),
        not_at_broker_lookback_days=env_int("ORDERS_NOT_AT_BROKER_LOOKBACK_DAYS", 3, low=0, high=30),
        reconcile_every_seconds=env_int("ORDERS_RECONCILE_EVERY_SECONDS", 60, low=5, high=3600),
        sim_tick_every_seconds=env_int("SIM_TICK_EVERY_SECONDS", 5, low=1, high=600),
        twap_sweep_grace_seconds=env_int("TWAP_SWEEP_GRACE_SECONDS", 10, low=1, high=3600),
        twap_lookahead_seconds=env_float("TWAP_LOOKAHEAD_SECONDS", 0.9, low_open=False, low=0.0, high=5.0),
        twap_resend_max=env_int("TWAP_RESEND_MAX", 8, low=0, high=50),
        sim_seed=env_int("SIM_SEED", 42, low=0, high=2**31),
        sim_slippage_bps=env_decimal("SIM_SLIPPAGE_BPS", "2", low_open=False, low=Decimal(0), high=Decimal(500)),
        sim_impact_coef_bps=env_decimal("SIM_IMPACT_COEF_BPS", "10", low_open=False, low=Decimal(0), high=Decimal(10000)),
        sim_commission_per_share=env_decimal("SIM_COMMISSION_PER_SHARE", "0", low_open=False, low=Decimal(0), high=Decimal(1)),
        sim_commission_min=env_decimal("SIM_COMMISSION_MIN", "0", low_open=False, low=Decimal(0), high=Decimal(100)),
        sim_participation=env_decimal("SIM_PARTICIPATION", "0.10", low_open=False, low=Decimal("0.0001"), high=Decimal(1)),
        sim_default_adv=env_decimal("SIM_DEFAULT_ADV", "1000000", low_open=False, low=Decimal(1), high=Decimal(10) ** 12),
        sim_reject_rate=env_float("SIM_REJECT_RATE", 0.0, low_open=False, low=0.0, high=1.0),
        sim_latency_ms=env_int("SIM_LATENCY_MS", 0, low=0, high=60000),
        sim_fail_submit_match=_regex("SIM_FAIL_SUBMIT_MATCH"),
        sim_starting_cash=env_decimal("SIM_STARTING_CASH", "100000", low_open=False, low=Decimal(0), high=Decimal(10) ** 12),
        alpaca_url_override=env_str("ALPACA_URL_OVERRIDE"),
        alpaca_stream_url_override=env_str("ALPACA_STREAM_URL_OVERRIDE"),
        alpaca_data_url_override=env_str("ALPACA_DATA_URL_OVERRIDE"),
        alpaca_timeout_seconds=env_float("ALPACA_TIMEOUT_SECONDS", 10.0, low_open=False, low=0.1, high=120.0),
        alpaca_retry_attempts=env_int("ALPACA_RETRY_ATTEMPTS", 2, low=0, high=10),
        alpaca_retry_wait_seconds=env_int("ALPACA_RETRY_WAIT_SECONDS", 1, low=0, high=60),
        trade_stream_poll_seconds=env_int("TRADE_STREAM_POLL_SECONDS", 5, low=1, high=300),
        sim_stream_poll_seconds=env_float("SIM_STREAM_POLL_SECONDS", 0.1, low_open=False, low=0.01, high=10.0),
    )


conf = load()


def resolve_grace_seconds() -> float:
    """How old an order must be before a broker without it means "not at broker": the configured
    grace, but above the longest a submission can still be in flight — Alpaca: every attempt timing
    out, plus the waits between attempts, plus 5 s; the simulated exchange: its latency plus 5 s."""
    from django.conf import settings

    if settings.BROKER == "alpaca":
        in_flight = (conf.alpaca_timeout_seconds * (conf.alpaca_retry_attempts + 1)
                     + conf.alpaca_retry_wait_seconds * conf.alpaca_retry_attempts + 5)
    else:
        in_flight = conf.sim_latency_ms / 1000 + 5
    return max(float(conf.unknown_grace_seconds), in_flight)
