"""The broker interface every adapter implements, its value types and its errors.

Adapters speak in these small dataclasses (Decimals, tz-aware datetimes, the ledger's status
vocabulary), never in vendor models, so the gateway, fill handling and reconciliation are the same
code for the simulated exchange and for Alpaca.

Errors split into three kinds the gateway treats differently:

- :class:`BrokerRejected` (and subclasses): the broker definitely did *not* accept the order.
- :class:`BrokerUnavailable`: timeout, connection error or 5xx — the outcome is *unknown*; the order
  becomes ``unknown`` and the resolver asks the broker by ``client_order_id``.
- :class:`RateLimited`: the broker refused to look at the request (429); nothing was placed.
  :class:`RequestBudgetExhausted` (a ``RateLimited``): the deployment's shared request budget
  refused it before it was sent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from trading_site.lib.errors import DomainError


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal
    order_type: str
    time_in_force: str
    limit_price: Decimal | None = None
    extended_hours: bool = False


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    broker_order_id: str
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal
    status: str  # ledger vocabulary: accepted, partially_filled, filled, canceled, rejected, expired
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    submitted_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class TradeUpdate:
    """One trade update (Alpaca's ``trade_updates`` stream vocabulary)."""

    event: str  # new, accepted, partial_fill, fill, canceled, expired, rejected, ...
    order: BrokerOrder
    timestamp: dt.datetime
    execution_id: str | None = None
    qty: Decimal | None = None  # this execution's quantity (fill events)
    price: Decimal | None = None  # this execution's price (fill events)
    commission: Decimal = Decimal(0)
    origin: str = "stream"  # stream, simulated, poll, reconcile
    ref: int | None = None  # adapter's own reference (the simulated outbox row) for mark_delivered


@dataclass(frozen=True, slots=True)
class BrokerAccount:
    cash: Decimal
    equity: Decimal
    buying_power: Decimal
    long_market_value: Decimal = Decimal(0)
    short_market_value: Decimal = Decimal(0)
    pattern_day_trader: bool | None = None  # Alpaca removed these in 2026: optional
    daytrade_count: int | None = None


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    symbol: str
    qty: Decimal  # signed
    avg_entry_price: Decimal


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    last: Decimal | None
    time: dt.datetime


class BrokerError(DomainError):
    code = "BROKER_ERROR"
    kind = "upstream"


class BrokerUnavailable(BrokerError):
    """Timeout, connection failure or 5xx: the broker may or may not have the order."""

    code = "BROKER_UNAVAILABLE"
    kind = "unavailable"


class RateLimited(BrokerError):
    code = "RATE_LIMITED"
    kind = "rate_limited"


class RequestBudgetExhausted(RateLimited):
    """Our own shared broker-request budget refused the request; it was never sent."""

    code = "BROKER_BUDGET_EXHAUSTED"


class BrokerRejected(BrokerError):
    """The broker refused the order; it does not exist there."""

    code = "BROKER_REJECTED"
    kind = "unprocessable"


class DuplicateClientOrderId(BrokerRejected):
    code = "DUPLICATE_CLIENT_ORDER_ID"


class InsufficientBuyingPower(BrokerRejected):
    # Alpaca answers 403; the API answers 422 so it is not mistaken for a role refusal.
    code = "INSUFFICIENT_BUYING_POWER"


class SubPennyPrice(BrokerRejected):
    code = "SUB_PENNY_PRICE"


class BrokerOrderNotFound(BrokerError):
    code = "BROKER_ORDER_NOT_FOUND"
    kind = "not_found"


class Broker(Protocol):
    name: str
    # True when the adapter's trade updates are delivered by the caller right after a submit,
    # cancel or lookup (the simulated exchange with SIM_FILL_DELIVERY=inline). False when another
    # process delivers them: Alpaca's websocket, or the simulated outbox read by run_trade_stream.
    synchronous_updates: bool

    def submit_order(self, request: SubmitRequest) -> BrokerOrder: ...

    def cancel_order(self, *, broker_order_id: str | None, client_order_id: str) -> None: ...

    def cancel_all_orders(self) -> int: ...

    def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder | None: ...

    def list_open_orders(self) -> list[BrokerOrder]: ...

    def list_positions(self) -> list[BrokerPosition]: ...

    def get_account(self) -> BrokerAccount: ...

    def latest_quote(self, symbol: str) -> Quote | None: ...

    def pending_updates(self, *, client_order_id: str | None = None) -> list[TradeUpdate]:
        """Updates not yet delivered, optionally of one order (simulated outbox; Alpaca: none)."""
        ...

    def mark_delivered(self, updates: list[TradeUpdate]) -> None: ...

    def health(self) -> dict: ...
