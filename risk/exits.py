"""Dynamic-risk poll: evaluate every open position's stops and send exits through the gateway.

Run by the ``risk.dynamic_exits`` beat task every 5 minutes during market hours. For each position:
the last price, the per-symbol overrides (``PositionRisk``) over the defaults (``RiskLimits``), the
most favourable price since entry (kept on ``PositionRisk`` and restarted when the position's side
or average entry changes), then :func:`risk.dynamic.exit_check`. An exit is a market order for the
whole position with ``source="risk"`` and a ``client_order_id`` derived from the position and an
attempt number, so a repeated poll (or a duplicated task) finds the same order instead of sending a
second one, while an attempt that ended unfilled is retried (see :func:`exit_client_order_id`).
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.db import transaction

from risk import orders_port
from risk.dynamic import LONG, SHORT, StopRules, exit_check, extreme_update
from risk.models import PositionRisk, RiskEvent
from risk.state import risk_state
from trading_site.alerts import alert_raise
from trading_site.lib.errors import DomainError

logger = logging.getLogger(__name__)


def _rules(row: PositionRisk | None) -> StopRules:
    limits = risk_state().limits
    if row is None:
        return StopRules(limits.stop_loss_pct, limits.take_profit_pct, limits.trailing_stop_pct)
    return StopRules(
        row.stop_loss_pct or limits.stop_loss_pct,
        row.take_profit_pct or limits.take_profit_pct,
        row.trailing_stop_pct if row.trailing_stop_pct is not None else limits.trailing_stop_pct,
    )


def _extreme_track(*, symbol: str, side: str, entry: Decimal, price: Decimal, now: dt.datetime,
                   row: PositionRisk | None) -> Decimal:
    same = row is not None and row.extreme_side == side and row.entry_price == entry and row.extreme_price is not None
    extreme = extreme_update(side=side, extreme=row.extreme_price if same else entry, price=price)
    PositionRisk.objects.update_or_create(
        symbol=symbol, defaults={"extreme_price": extreme, "extreme_side": side, "entry_price": entry, "updated_at": now}
    )
    return extreme


def exit_client_order_id(*, symbol: str, reason: str, qty: Decimal, entry: Decimal) -> str | None:
    """The id of the next exit attempt for this position, or None while an earlier exit is working.

    ``risk:<symbol>:<rule>:<qty>:<entry>:<attempt>``: a repeated poll or a duplicated task computes
    the same id (the gateway returns the existing order); an attempt that ended without filling
    (refused while the kill switch was engaged, cancelled, expired) is followed by attempt + 1.
    """
    base = f"risk:{symbol}:{reason}:{qty.normalize():f}:{entry.normalize():f}:"
    earlier = orders_port.risk_orders(symbol=symbol, client_order_id_prefix=base)
    if any(orders_port.order_is_open(status) for _, status in earlier):
        return None
    return f"{base}{len(earlier) + 1}"


def exits_evaluate(*, now: dt.datetime) -> list[dict]:
    overrides = {r.symbol: r for r in PositionRisk.objects.all()}
    results: list[dict] = []
    for symbol, qty, entry in orders_port.positions():
        row = overrides.get(symbol)
        if (row is not None and row.disabled) or entry <= 0:
            continue
        price = orders_port.last_price(symbol=symbol)
        if price is None:
            continue
        side = LONG if qty > 0 else SHORT
        extreme = _extreme_track(symbol=symbol, side=side, entry=entry, price=price, now=now, row=row)
        signal = exit_check(side=side, entry_price=entry, price=price, extreme_price=extreme, rules=_rules(row))
        if signal is None:
            continue
        exit_side = "sell" if side == LONG else "buy"
        reason = f"{signal.reason}: price {price} crossed {signal.trigger:.4f} (entry {entry})"
        data = {"symbol": symbol, "reason": signal.reason, "price": str(price), "trigger": str(signal.trigger),
                "qty": str(abs(qty)), "side": exit_side}
        client_order_id = exit_client_order_id(symbol=symbol, reason=signal.reason, qty=abs(qty), entry=entry)
        if client_order_id is None:
            results.append(data | {"status": "working"})
            continue
        try:
            order = orders_port.exit_submit(
                symbol=symbol, side=exit_side, qty=abs(qty), reason=reason, client_order_id=client_order_id
            )
        except DomainError as exc:
            logger.warning("risk exit for %s refused: %s", symbol, exc.detail)
            with transaction.atomic():
                RiskEvent.objects.create(created_at=now, kind=RiskEvent.Kind.EXIT_FAILED, subject=symbol,
                                         reason=reason, data=data | {"code": exc.code, "detail": exc.detail})
                alert_raise(source="risk", metric="risk_exit_failed",
                            message=f"Exit for {symbol} ({signal.reason}) refused: {exc.code} {exc.detail}", data=data)
            results.append(data | {"status": "refused", "code": exc.code})
            continue
        RiskEvent.objects.create(created_at=now, kind=RiskEvent.Kind.EXIT_SUBMITTED, subject=symbol, reason=reason,
                                 data=data | {"order_id": order.pk, "status": order.status})
        results.append(data | {"status": order.status, "order_id": order.pk})
    return results
