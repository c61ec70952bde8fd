"""Position arithmetic: pure Decimal functions, no ORM, no clock.

A position is ``(qty, avg_cost, realized)`` with signed ``qty`` (negative = short). Applying a fill
of signed quantity ``s`` at price ``p``:

- *opening or adding* (flat, or same sign): ``avg_cost`` becomes the quantity-weighted average
  ``(|q|·a + |s|·p) / |q + s|``;
- *reducing* (opposite sign, ``|s| <= |q|``): realized P&L grows by ``closed · (p − a)`` for a long
  (``closed · (a − p)`` for a short); ``avg_cost`` is unchanged, and becomes 0 when flat;
- *flipping* (opposite sign, ``|s| > |q|``): the whole old position is closed as above and the
  remainder opens a new position at ``p``.

Commissions are not part of ``avg_cost``; they are subtracted from realized P&L when paid, so the
average cost stays comparable with the broker's ``avg_entry_price``. Average cost is kept to 6
decimal places (ROUND_HALF_EVEN), realized P&L to 6 decimal places.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading_site.lib.money import quantize_money, quantize_price

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PositionState:
    qty: Decimal = ZERO
    avg_cost: Decimal = ZERO
    realized: Decimal = ZERO


def _sign(value: Decimal) -> int:
    return (value > 0) - (value < 0)


def apply_fill(state: PositionState, *, side: str, qty: Decimal, price: Decimal, commission: Decimal = ZERO) -> PositionState:
    if qty <= 0 or price <= 0:
        raise ValueError("fill qty and price must be positive")
    signed = qty if side == "buy" else -qty
    q, a, realized = state.qty, state.avg_cost, state.realized - commission
    if q == 0 or _sign(q) == _sign(signed):
        new_qty = q + signed
        new_avg = quantize_price((abs(q) * a + qty * price) / abs(new_qty))
        return PositionState(qty=new_qty, avg_cost=new_avg, realized=quantize_money(realized))
    closed = min(qty, abs(q))
    realized += closed * (price - a) * _sign(q)
    new_qty = q + signed
    if new_qty == 0:
        new_avg = ZERO
    elif _sign(new_qty) == _sign(q):
        new_avg = a
    else:  # flipped: the remainder opens at the fill price
        new_avg = quantize_price(price)
    return PositionState(qty=new_qty, avg_cost=new_avg, realized=quantize_money(realized))


def unrealized_pnl(*, qty: Decimal, avg_cost: Decimal, price: Decimal | None) -> Decimal | None:
    if price is None:
        return None
    return quantize_money((price - avg_cost) * qty)
