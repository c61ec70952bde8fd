"""Trade updates → order status, fills and positions. One code path for every broker.

The simulated exchange's outbox, Alpaca's ``trade_updates`` websocket, the REST polling fallback and
reconciliation all end in :func:`trade_update_apply`. It is idempotent and order-insensitive:

- the order row is locked (``select_for_update``) for the whole update, so updates for one order
  are applied one at a time;
- a fill whose ``execution_id`` is already recorded changes nothing;
- the broker's *cumulative* filled quantity and average price are the truth: a fill that would not
  increase the order's filled quantity (a late, out-of-order partial) changes nothing, and a gap
  (missed executions) is closed with one catch-up fill priced so that the order's filled notional
  equals ``cum_qty × avg_price`` at the broker;
- status only moves forward (a late ``accepted`` never overwrites ``filled``).

Each *new* fill updates the position and calls :func:`orders.events.fill_notify` inside the same
transaction (tax lots follow fills that way).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal

from orders.book import atomic, book_active, persist, saved
from orders.brokers.base import TradeUpdate
from orders.events import FillEvent, fill_notify
from orders.models import TERMINAL_STATUSES, Fill, Order, OrderEvent, OrderStatus, Position
from orders.pnl import PositionState, apply_fill
from trading_site.alerts import alert_raise
from trading_site.lib import clock
from trading_site.lib.money import quantize_money, quantize_price

logger = logging.getLogger(__name__)

_RANK = {
    OrderStatus.SCHEDULED: 0,
    OrderStatus.NEW: 1,
    OrderStatus.SUBMITTING: 2,
    OrderStatus.UNKNOWN: 2,
    OrderStatus.SUBMITTED: 3,
    OrderStatus.ACCEPTED: 4,
    OrderStatus.PARTIALLY_FILLED: 5,
}
_FILL_EVENTS = ("fill", "partial_fill")


def order_transition(
    *, order: Order, to: str, kind: str, now: dt.datetime, actor=None, data: dict | None = None
) -> bool:
    """Set ``order.status`` (caller saves) and append an :class:`OrderEvent`. No-op when unchanged."""
    if order.status == to:
        return False
    persist(OrderEvent(
        order=order, created_at=now, kind=kind, from_status=order.status, to_status=to, actor=actor, data=data or {}
    ))
    order.status = to
    order.updated_at = now
    return True


def order_event_record(*, order: Order, kind: str, now: dt.datetime, actor=None, data: dict | None = None) -> None:
    persist(OrderEvent(
        order=order, created_at=now, kind=kind, from_status=order.status, to_status=order.status, actor=actor, data=data or {}
    ))


NOT_AT_BROKER = "NOT_AT_BROKER"


def order_revive(*, order: Order, broker_order_id: str, origin: str) -> None:
    """A locked order judged ``failed``/``NOT_AT_BROKER`` turned out to be at the broker (a slow
    submission arrived after the verdict): back to ``submitted`` — the update being applied moves it
    on to its true state — with a ``revived`` event and an alert (a caller may have retried it)."""
    now = clock.now()
    order.reject_code, order.reject_detail = "", ""
    order_transition(order=order, to=OrderStatus.SUBMITTED, kind="revived", now=now,
                     data={"broker_order_id": broker_order_id, "was": "failed/NOT_AT_BROKER", "origin": origin})
    saved(order, fields=["status", "reject_code", "reject_detail", "updated_at"])
    alert_raise(source="orders", metric="order_revived",
                message=f"{order.client_order_id} was judged not at the broker but the broker has it; revived",
                data={"order_id": order.pk, "broker_order_id": broker_order_id, "origin": origin})


def _moves_forward(current: str, target: str) -> bool:
    if current in TERMINAL_STATUSES:
        return False
    if target in TERMINAL_STATUSES:
        return True
    return _RANK.get(target, 0) > _RANK.get(current, 0)


def position_apply_fill(
    *, symbol: str, side: str, qty: Decimal, price: Decimal, commission: Decimal, now: dt.datetime
) -> Position:
    book = book_active()
    if book is not None:  # a replay: the book's position is the row (written at the flush)
        pos = book.positions.get(symbol)
        if pos is None:
            pos = book.positions[symbol] = Position(symbol=symbol, updated_at=now)
    else:
        pos = Position.objects.select_for_update().filter(symbol=symbol).first()
        if pos is None:
            Position.objects.bulk_create([Position(symbol=symbol, updated_at=now)], ignore_conflicts=True)
            pos = Position.objects.select_for_update().get(symbol=symbol)
    state = apply_fill(
        PositionState(qty=pos.qty, avg_cost=pos.avg_cost, realized=pos.realized_pnl),
        side=side,
        qty=qty,
        price=price,
        commission=commission,
    )
    pos.qty, pos.avg_cost, pos.realized_pnl, pos.updated_at = state.qty, state.avg_cost, state.realized, now
    saved(pos, fields=["qty", "avg_cost", "realized_pnl", "updated_at"])
    return pos


def _fill_book(
    *,
    order: Order,
    execution_id: str,
    qty: Decimal,
    price: Decimal,
    commission: Decimal,
    executed_at: dt.datetime,
    origin: str,
    now: dt.datetime,
) -> Fill:
    fill = Fill(
        order=order,
        execution_id=execution_id,
        symbol=order.symbol,
        side=order.side,
        qty=qty,
        price=price,
        commission=commission,
        executed_at=executed_at,
        recorded_at=now,
        origin=origin,
    )
    book = book_active()
    if book is None:
        fill.save(force_insert=True)
    else:
        book.fill_add(fill)
    order.filled_qty += qty
    order.filled_notional = quantize_money(order.filled_notional + qty * price)
    order.avg_fill_price = quantize_price(order.filled_notional / order.filled_qty)
    order.commission += commission
    target = OrderStatus.FILLED if order.filled_qty == order.qty else OrderStatus.PARTIALLY_FILLED
    data = {"execution_id": execution_id, "qty": str(qty), "price": str(price), "origin": origin}
    if target == OrderStatus.FILLED:
        order.filled_at = executed_at
    if order.status in TERMINAL_STATUSES or not order_transition(
        order=order, to=target, kind="fill" if target == OrderStatus.FILLED else "partial_fill", now=now, data=data
    ):
        order_event_record(order=order, kind="fill", now=now, data=data)
    order.updated_at = now
    position_apply_fill(
        symbol=order.symbol, side=order.side, qty=qty, price=price, commission=commission, now=now
    )
    fill_notify(
        FillEvent(
            execution_id=execution_id,
            order_id=order.pk,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            qty=qty,
            price=price,
            commission=commission,
            executed_at=executed_at,
            source=order.source,
            strategy=order.strategy,
        )
    )
    return fill


def _execution_booked(execution_id: str) -> bool:
    book = book_active()
    if book is not None:
        return execution_id in book.execution_ids
    return Fill.objects.filter(execution_id=execution_id).exists()


def _fills_apply(*, order: Order, update: TradeUpdate, now: dt.datetime) -> list[Fill]:
    fills: list[Fill] = []
    cum = update.order.filled_qty or Decimal(0)
    avg = update.order.filled_avg_price
    if update.event in _FILL_EVENTS and update.execution_id and update.qty and update.price:
        # A cumulative quantity above the ledger's proves the execution new; otherwise look it up.
        if (not cum or cum <= order.filled_qty) and _execution_booked(update.execution_id):
            return fills  # duplicate delivery: already booked (we hold the order's lock)
        expected = order.filled_qty + update.qty
        if cum and cum <= order.filled_qty:
            order_event_record(
                order=order,
                kind="stale_fill_ignored",
                now=now,
                data={"execution_id": update.execution_id, "cum_qty": str(cum), "ledger_filled": str(order.filled_qty)},
            )
            return fills
        if not cum or cum == expected:
            if expected > order.qty:
                logger.error("fill %s would overfill order %s; ignored", update.execution_id, order.client_order_id)
                return fills
            fills.append(
                _fill_book(
                    order=order,
                    execution_id=update.execution_id,
                    qty=update.qty,
                    price=update.price,
                    commission=update.commission,
                    executed_at=update.timestamp,
                    origin=update.origin,
                    now=now,
                )
            )
            return fills
    # Catch up to the broker's cumulative fill (missed or out-of-order executions, reconciliation).
    # A submit acknowledgement never books fills: the executions follow on the update stream.
    catch_up = update.event in _FILL_EVENTS or update.origin in ("reconcile", "poll")
    if catch_up and cum > order.filled_qty and avg is not None and cum <= order.qty:
        delta = cum - order.filled_qty
        price = quantize_price((cum * avg - order.filled_notional) / delta)
        if price <= 0:
            price = quantize_price(avg)
        execution_id = update.execution_id if update.event in _FILL_EVENTS and update.execution_id else None
        if execution_id is None or _execution_booked(execution_id):
            execution_id = f"cum:{update.order.broker_order_id}:{cum.normalize()}"
            if _execution_booked(execution_id):
                return fills
        fills.append(
            _fill_book(
                order=order,
                execution_id=execution_id,
                qty=delta,
                price=price,
                commission=update.commission if update.event in _FILL_EVENTS else Decimal(0),
                executed_at=update.timestamp,
                origin=update.origin,
                now=now,
            )
        )
    return fills


def _update_apply(*, order: Order, update: TradeUpdate, now: dt.datetime, fields: set[str]) -> list[Fill]:
    """Apply one update to a locked order (the caller saves ``fields``)."""
    fields |= {"status", "updated_at"}
    if order.status == OrderStatus.FAILED and order.reject_code == NOT_AT_BROKER and update.order.broker_order_id:
        order_revive(order=order, broker_order_id=update.order.broker_order_id, origin=update.origin)
        fields |= {"reject_code", "reject_detail"}
    if not order.broker_order_id and update.order.broker_order_id:
        order.broker_order_id = update.order.broker_order_id
        fields.add("broker_order_id")
    if order.submitted_at is None and update.order.submitted_at is not None:
        order.submitted_at = update.order.submitted_at
        fields.add("submitted_at")
    fills = _fills_apply(order=order, update=update, now=now)
    if fills:
        fields |= {"filled_qty", "filled_notional", "avg_fill_price", "commission", "filled_at"}
    target = update.order.status
    if target in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
        # The broker has the order; fill states follow the ledger's own filled quantity (_fill_book).
        target = OrderStatus.ACCEPTED
    if target and _moves_forward(order.status, target):
        if target == OrderStatus.CANCELED:
            order.canceled_at = update.timestamp
            fields.add("canceled_at")
        order_transition(order=order, to=target, kind=update.event, now=now, data={"origin": update.origin})
    return fills


def trade_updates_apply(
    *, updates: list[TradeUpdate], on_applied: Callable[[], None] | None = None
) -> tuple[list[Fill], Order | None]:
    """Apply updates of ONE order in one transaction, holding its row lock once.

    ``on_applied`` runs inside the same transaction (the outbox marks the updates delivered).
    Returns the new fills and the updated order (None when the ledger does not know it).
    """
    if not updates:
        return [], None
    cids = {u.order.client_order_id for u in updates}
    if len(cids) != 1:
        raise ValueError("trade_updates_apply takes the updates of one order")
    now = clock.now()
    fills: list[Fill] = []
    book = book_active()
    with atomic():
        if book is not None:
            order = book.orders.get(next(iter(cids)))
        else:
            order = Order.objects.select_for_update().filter(client_order_id=next(iter(cids))).first()
        if order is None:
            logger.warning("trade update for an order unknown to the ledger: %s (%s)", next(iter(cids)), updates[0].event)
            if on_applied is not None:
                on_applied()
            return [], None
        fields: set[str] = set()
        for update in updates:
            fills += _update_apply(order=order, update=update, now=now, fields=fields)
        saved(order, fields=fields)
        if on_applied is not None:
            on_applied()
    return fills, order


def trade_update_apply(*, update: TradeUpdate) -> list[Fill]:
    """Apply one trade update; returns the fills it booked (empty for duplicates and status-only updates)."""
    return trade_updates_apply(updates=[update])[0]


def updates_pump(*, broker, client_order_id: str | None = None, held_back: list[str] | None = None) -> int:
    """Deliver the adapter's pending trade updates (the simulated outbox), optionally of one order.

    One transaction per order, in outbox order: its updates are applied under one lock and marked
    delivered together. An order whose updates fail (a fill listener raised) is logged and held
    back — its updates stay pending and are retried by the next pump — while the other orders'
    updates are delivered. Returns how many updates were delivered; the client order ids held back
    are appended to ``held_back`` when given.
    """
    updates = broker.pending_updates(client_order_id=client_order_id)
    groups: dict[str, list[TradeUpdate]] = {}
    for update in updates:
        groups.setdefault(update.order.client_order_id, []).append(update)
    delivered = 0
    for cid, group in groups.items():
        try:
            trade_updates_apply(updates=group, on_applied=lambda group=group: broker.mark_delivered(group))
        except Exception:
            logger.exception("trade updates of %s held back (retried on the next delivery)", cid)
            if held_back is not None:
                held_back.append(cid)
            continue
        delivered += len(group)
    return delivered
