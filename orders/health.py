"""Health of the trading side, for /healthz (wired in ops/wiring.py): the broker and the trade stream."""

from __future__ import annotations

from orders.brokers import get_broker, trade_stream_expected
from trading_site import health

__all__ = ["broker_health", "trade_stream_expected", "trade_stream_health"]


def broker_health() -> dict:
    return get_broker().health()


def trade_stream_health() -> dict:
    """The trade stream's heartbeat: fills stop reaching the ledger without it."""
    return health.heartbeat_check("trade_stream")
