"""The risk app's window on the orders app (the layer below it): the few numbers risk needs.

A thin adapter that turns the ledger's selectors into risk's own value types (positions, exposure,
last price, the account — cached briefly for the pre-trade checks, which run on every order) and
calls the gateway for risk's own orders (kill-switch flattening, protective exits).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

from orders import gateway, selectors
from orders.models import OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class AccountData:
    equity: Decimal
    cash: Decimal
    buying_power: Decimal
    multiplier: Decimal | None  # None: the snapshot does not say (cash vs margin unknown)
    shorting_enabled: bool | None
    status: str


def _dec(value) -> Decimal | None:
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def positions() -> list[tuple[str, Decimal, Decimal]]:
    """(symbol, signed qty, average entry price) of every open position."""

    result = []
    for position in selectors.positions_list():
        qty = _dec(getattr(position, "qty", None)) or Decimal(0)
        if qty != 0:
            avg = _dec(getattr(position, "avg_cost", None))
            result.append((position.symbol, qty, avg or Decimal(0)))
    return result


@dataclass(frozen=True, slots=True)
class Exposure:
    position_qty: Decimal  # signed, of the order's symbol
    gross: Decimal  # sum of |qty| x last price (average cost when no price) over all positions


def exposure(*, symbol: str) -> Exposure:
    """The order's position and the gross exposure from one read of the positions."""

    symbol = symbol.upper()
    qty = Decimal(0)
    gross = Decimal(0)
    for position in selectors.positions_list():
        if position.symbol == symbol:
            qty = position.qty
        value = position.market_value
        gross += abs(value) if value is not None else abs(position.qty) * position.avg_cost
    return Exposure(position_qty=qty, gross=gross)


def last_price(*, symbol: str) -> Decimal | None:
    return _dec(selectors.last_price(symbol=symbol))


_ACCOUNT_TTL = 1.0  # seconds; the snapshot itself is only as fresh as the last reconciliation
# Keyed by the database connection in use: a replay (its own database, in another thread) and live
# trading never see each other's snapshot.
_account_cache: dict[int, tuple[float, AccountData | None]] = {}


def account(*, fresh: bool = False) -> AccountData | None:
    """The latest account snapshot; the order path reuses it for a second within a process."""
    from django.db import DEFAULT_DB_ALIAS, connections

    key = id(connections[DEFAULT_DB_ALIAS])
    now = time.monotonic()
    cached = _account_cache.get(key)
    if not fresh and cached is not None and now - cached[0] < _ACCOUNT_TTL:
        return cached[1]
    value = _account_load()
    _account_cache[key] = (now, value)
    return value


def account_cache_clear() -> None:
    _account_cache.clear()


def _account_load() -> AccountData | None:
    row = selectors.account_latest()
    if row is None:
        return None
    shorting = getattr(row, "shorting_enabled", None)
    return AccountData(
        equity=_dec(row.equity),
        cash=_dec(row.cash),
        buying_power=_dec(row.buying_power),
        multiplier=_dec(getattr(row, "multiplier", None)),
        shorting_enabled=None if shorting is None else bool(shorting),
        status=str(getattr(row, "status", "") or ""),
    )


def orders_cancel_all(*, actor, reason: str) -> int:
    return gateway.order_cancel_all(actor=actor, reason=reason, include_scheduled=True)


def positions_flatten_all(*, actor, reason: str) -> list:
    return gateway.positions_flatten_all(actor=actor, reason=reason, source="kill_switch")


def risk_orders(*, symbol: str, client_order_id_prefix: str) -> list[tuple[str, str]]:
    """(client_order_id, status) of earlier ``source="risk"`` orders whose id starts with the prefix."""

    rows = selectors.orders_list(symbol=symbol, source="risk").values_list("client_order_id", "status")
    return [(cid, status) for cid, status in rows if cid.startswith(client_order_id_prefix)]


def order_is_open(status: str) -> bool:
    return status in OPEN_STATUSES


def exit_submit(*, symbol: str, side: str, qty: Decimal, reason: str, client_order_id: str):
    """An exit through the gateway (``source="risk"``): every check still applies."""

    return gateway.order_place(
        symbol=symbol, side=side, qty=qty, source="risk", actor=None, reason=reason, client_order_id=client_order_id
    ).order
