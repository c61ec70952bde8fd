"""The gateway's pre-trade hook point and its rejection contract.

Every order the gateway places passes :func:`run_checks` *before* anything is sent to a broker.
Other apps' checks (risk: kill switch, circuit breakers, limits, market hours, rollout phase; tax:
optional wash-sale block) are registered at start-up by ``ops/wiring.py``, the one list of them::

    pretrade.register_check("risk.controls", risk_checks.pretrade_controls, order=10)

A check receives the :class:`OrderIntent` and returns ``None`` to pass, or raises
:class:`PreTradeRejection` with a machine-readable ``code`` (``KILL_SWITCH_ENGAGED``,
``MAX_ORDER_NOTIONAL``...). The gateway records the rejection (order status ``rejected`` with the
code, an ``OrderEvent``) and makes no broker call. A TWAP parent runs the same checks once, for
the whole parent, when it is created (``orders.slicing``: an intent with ``slice_qty``); a refused
parent is stored ``rejected`` with no children. Checks run in ascending ``order``; the first
rejection stops the run. Checks must be fast (the budget is p95 < 2 ms for all of them together)
and must not call the broker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from trading_site.lib.errors import DomainError


@dataclass(frozen=True, slots=True)
class OrderIntent:
    symbol: str
    side: str  # "buy" | "sell"
    qty: Decimal
    order_type: str  # "market" | "limit"
    time_in_force: str  # "day" | "gtc"
    source: str  # manual, api, signal, twap, risk, kill_switch, reconcile
    now: dt.datetime
    limit_price: Decimal | None = None
    extended_hours: bool = False
    reference_price: Decimal | None = None  # last/quote price used for notional and the price band
    actor_id: int | None = None
    parent_order_id: int | None = None
    client_order_id: str = ""
    extra: dict = field(default_factory=dict)
    # Set for a TWAP parent (checked once, when it is created): ``qty`` is the whole parent and
    # ``slice_qty`` its largest slice. Limits on what the order adds to the book (position,
    # exposure, rollout cap, buying power) measure the whole parent; the per-order notional cap
    # measures the largest slice (the slices are the orders the broker sees); the parent uses no
    # rate budget (each slice counts when it is sent, and passes every check again then).
    slice_qty: Decimal | None = None
    # A preview (:func:`dry_run`): checks decide exactly as for a submission but spend nothing (the
    # rate limits peek at their windows instead of counting the order).
    dry_run: bool = False

    @property
    def signed_qty(self) -> Decimal:
        return self.qty if self.side == "buy" else -self.qty

    @property
    def notional(self) -> Decimal | None:
        price = self.limit_price or self.reference_price
        return None if price is None else self.qty * price


class PreTradeRejection(DomainError):
    """Raised by a check. ``code`` is machine-readable; ``detail`` is for people."""

    kind = "unprocessable"

    def __init__(self, code: str, detail: str, *, data: dict | None = None) -> None:
        super().__init__(detail, code=code)
        self.data = data or {}


Check = Callable[[OrderIntent], None]


@dataclass(frozen=True, slots=True)
class _Registered:
    name: str
    fn: Check
    order: int


_checks: dict[str, _Registered] = {}


def register_check(name: str, fn: Check, *, order: int = 100) -> None:
    _checks[name] = _Registered(name=name, fn=fn, order=order)


def unregister_check(name: str) -> None:
    _checks.pop(name, None)


def registered_checks() -> list[str]:
    return [c.name for c in sorted(_checks.values(), key=lambda c: (c.order, c.name))]


def _ordered() -> list[_Registered]:
    return sorted(_checks.values(), key=lambda c: (c.order, c.name))


def run_checks(intent: OrderIntent) -> None:
    """Run every registered check; raise the first :class:`PreTradeRejection`."""
    for check in _ordered():
        check.fn(intent)


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    name: str
    ok: bool
    code: str = ""
    detail: str = ""


def dry_run(intent: OrderIntent) -> list[CheckOutcome]:
    """The preview of :func:`run_checks`: every registered check, in the same order, on the same
    intent marked ``dry_run`` — what a submission would meet now, with nothing written or spent.

    Unlike a submission it does not stop at the first refusal: a person fixing an order wants every
    reason at once. The console's confirmation step and ``POST /api/v1/orders/preview/`` call this,
    so a check added to the pipeline (ops/wiring.py) is previewed with no further change.
    """
    intent = replace(intent, dry_run=True)
    outcomes: list[CheckOutcome] = []
    for check in _ordered():
        try:
            check.fn(intent)
        except PreTradeRejection as exc:
            outcomes.append(CheckOutcome(check.name, False, exc.code, str(exc.detail)))
        else:
            outcomes.append(CheckOutcome(check.name, True))
    return outcomes
