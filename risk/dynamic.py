"""Dynamic risk: stop-loss, take-profit and trailing stop on open positions.

:func:`exit_check` is pure (no ORM, no clock): given the position's side, entry price, the current
price and the most favourable price since entry, it says whether to exit and why. :func:`replay`
walks a price path with it, which is how the tests prove that a rule fires at the right bar and
not before. Defaults: stop-loss 3%, take-profit 10%, trailing stop off (``RiskLimits``), with
per-symbol overrides (``PositionRisk``).

Long position, entry E, best price since entry H:
- stop-loss when price <= E x (1 - stop_loss)
- trailing stop when price <= H x (1 - trailing)
- take-profit when price >= E x (1 + take_profit)
A short mirrors this (H is the lowest price). When one bar satisfies several, stop-loss wins, then
the trailing stop, then take-profit (protect capital first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

LONG = "long"
SHORT = "short"


@dataclass(frozen=True, slots=True)
class StopRules:
    stop_loss_pct: Decimal
    take_profit_pct: Decimal
    trailing_stop_pct: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ExitSignal:
    reason: str  # stop_loss | trailing_stop | take_profit
    trigger: Decimal  # the threshold price that was crossed
    price: Decimal


def extreme_update(*, side: str, extreme: Decimal | None, price: Decimal) -> Decimal:
    if extreme is None:
        return price
    return max(extreme, price) if side == LONG else min(extreme, price)


def exit_check(
    *, side: str, entry_price: Decimal, price: Decimal, extreme_price: Decimal, rules: StopRules
) -> ExitSignal | None:
    """``extreme_price`` must already include ``price`` (see :func:`extreme_update`)."""
    if side not in (LONG, SHORT):
        raise ValueError(f"side must be long or short, not {side!r}")
    one = Decimal(1)
    if side == LONG:
        stop = entry_price * (one - rules.stop_loss_pct)
        if price <= stop:
            return ExitSignal("stop_loss", stop, price)
        if rules.trailing_stop_pct is not None:
            trail = extreme_price * (one - rules.trailing_stop_pct)
            if price <= trail:
                return ExitSignal("trailing_stop", trail, price)
        target = entry_price * (one + rules.take_profit_pct)
        if price >= target:
            return ExitSignal("take_profit", target, price)
        return None
    stop = entry_price * (one + rules.stop_loss_pct)
    if price >= stop:
        return ExitSignal("stop_loss", stop, price)
    if rules.trailing_stop_pct is not None:
        trail = extreme_price * (one + rules.trailing_stop_pct)
        if price >= trail:
            return ExitSignal("trailing_stop", trail, price)
    target = entry_price * (one - rules.take_profit_pct)
    if price <= target:
        return ExitSignal("take_profit", target, price)
    return None


def replay(
    *, side: str, entry_price: Decimal, prices: Sequence[Decimal], rules: StopRules
) -> tuple[int, ExitSignal] | None:
    """The first index of ``prices`` at which an exit fires, with the signal; None if none does."""
    extreme = entry_price
    for i, price in enumerate(prices):
        extreme = extreme_update(side=side, extreme=extreme, price=price)
        signal = exit_check(side=side, entry_price=entry_price, price=price, extreme_price=extreme, rules=rules)
        if signal is not None:
            return i, signal
    return None
