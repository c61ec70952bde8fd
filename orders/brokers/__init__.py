"""Broker selection: ``settings.BROKER`` (``simulated`` | ``alpaca``) picks the adapter.

:func:`get_broker` returns one adapter per process; :func:`use_broker` swaps it for a block (tests,
replay).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from django.conf import settings

from orders.brokers.base import Broker

_lock = threading.Lock()
_broker: Broker | None = None
_override: list[Broker] = []


def _build(name: str) -> Broker:
    if name == "alpaca":
        from orders.brokers.alpaca import AlpacaBroker

        return AlpacaBroker.from_settings()
    from orders.brokers.simulated import SimulatedBroker

    return SimulatedBroker()


def get_broker() -> Broker:
    global _broker
    if _override:
        return _override[-1]
    if _broker is None:
        with _lock:
            if _broker is None:
                _broker = _build(settings.BROKER)
    return _broker


@contextlib.contextmanager
def use_broker(broker: Broker) -> Iterator[Broker]:
    _override.append(broker)
    try:
        yield broker
    finally:
        _override.remove(broker)


def trade_stream_expected() -> bool:
    """Whether this deployment runs ``manage.py run_trade_stream``: with Alpaca (its websocket), or
    with the simulated exchange delivering its fills as a stream (``SIM_FILL_DELIVERY=stream``)."""
    return settings.BROKER == "alpaca" or settings.SIM_FILL_DELIVERY == "stream"


def reset_broker() -> None:
    global _broker
    with _lock:
        _broker = None
