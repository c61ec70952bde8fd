"""Broker selection: ``settings.BROKER`` (``simulated`` | ``alpaca``) picks the adapter.

:func:`get_broker` returns one adapter per process; :func:`use_broker` swaps it for a block (tests,
replay). A replay swaps it for its own thread (or task) only, ``use_broker(b, this_thread_only=True)``,
so live orders placed meanwhile by other threads of the process still reach the real broker.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator

from django.conf import settings

from orders.brokers.base import Broker
from orders.brokers.simulated import SimulatedBroker

_lock = threading.Lock()
_broker: Broker | None = None
_override: list[Broker] = []
_scoped: contextvars.ContextVar[Broker | None] = contextvars.ContextVar("broker_override", default=None)


def _build(name: str) -> Broker:
    if name == "alpaca":
        from orders.brokers.alpaca import AlpacaBroker  # alpaca-py is imported only when Alpaca is the broker

        return AlpacaBroker.from_settings()

    return SimulatedBroker()


def get_broker() -> Broker:
    global _broker
    scoped = _scoped.get()
    if scoped is not None:
        return scoped
    if _override:
        return _override[-1]
    if _broker is None:
        with _lock:
            if _broker is None:
                _broker = _build(settings.BROKER)
    return _broker


@contextlib.contextmanager
def use_broker(broker: Broker, *, this_thread_only: bool = False) -> Iterator[Broker]:
    if this_thread_only:
        token = _scoped.set(broker)
        try:
            yield broker
        finally:
            _scoped.reset(token)
        return
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
