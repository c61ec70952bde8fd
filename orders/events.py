"""Fill listeners: how other apps (tax lots, metrics) follow every fill without orders importing them.

The orders app calls :func:`fill_notify` for each *new* fill (a duplicate execution id never
reaches it), inside the same database transaction that records the fill and updates the position,
so a listener's writes commit or roll back together with the fill. Listeners are registered at
start-up by ``ops/wiring.py`` (the one list of them, in the order they are called)::

    events.register_fill_listener("tax_lots", lots_apply_fill)

A listener raising an exception aborts the fill's transaction: the fill is retried on the next
trade update or reconciliation, so listeners must be deterministic and idempotent by
``execution_id``.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class FillEvent:
    execution_id: str  # broker execution id, unique
    order_id: int
    client_order_id: str  # the platform's trade id for tax records
    symbol: str
    side: str  # "buy" | "sell"
    qty: Decimal  # > 0
    price: Decimal
    commission: Decimal
    executed_at: dt.datetime  # tz-aware UTC
    source: str  # order source: manual, api, signal, twap, risk, kill_switch, reconcile
    strategy: str = ""  # strategy name when the order came from a signal/rebalance
    account: str = "default"


Listener = Callable[[FillEvent], None]
_listeners: dict[str, Listener] = {}
# Replacements for registered listeners in this thread/task only (see listeners_replaced).
_replaced: contextvars.ContextVar[dict[Listener, Listener] | None] = contextvars.ContextVar(
    "fill_listeners", default=None
)


def register_fill_listener(name: str, fn: Listener) -> None:
    _listeners[name] = fn


def unregister_fill_listener(name: str) -> None:
    _listeners.pop(name, None)


def registered_fill_listeners() -> list[str]:
    return list(_listeners)


@contextlib.contextmanager
def listeners_replaced(replacements: dict[Listener, Listener]) -> Iterator[None]:
    """Inside the block, in this thread (or task) only, each registered listener that is a key is
    replaced by its value.

    A replay uses it to hand the tax-lot listener's work to a collector that applies the run's fills
    in bulk when it ends (``tax.services.lots_apply_fills``): the same lot engine, one write instead
    of one per fill. Fills booked meanwhile by other threads (live trading) still call the registered
    listeners. A listener that is not registered is refused: its replacement would silently never run.
    """
    unknown = [fn for fn in replacements if fn not in _listeners.values()]
    if unknown:
        raise KeyError(f"not a registered fill listener: {unknown[0]!r}")
    token = _replaced.set(replacements)
    try:
        yield
    finally:
        _replaced.reset(token)


def fill_notify(event: FillEvent) -> None:
    """Call every listener, in the order they were registered (ops/wiring.py lists them)."""
    replaced = _replaced.get() or {}
    for listener in list(_listeners.values()):
        replaced.get(listener, listener)(event)
