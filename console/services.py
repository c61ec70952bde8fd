"""Console actions that compose other apps' services.

:func:`manual_order_submit` is the confirmed manual order: it goes through the execution gateway with
source ``manual`` and the operator's reason (a TWAP parent through ``orders.slicing`` when slices are
asked for; its slices are then sent by the dispatcher), and records the ``order.manual`` action (the entry the
monthly compliance report lists). The gateway commits the order before it calls the broker and never
calls it inside a transaction, so the action is recorded right after the gateway returns or refuses,
against the order row it stored (a refused order is stored too, as ``rejected`` with its code).
"""

from __future__ import annotations

from decimal import Decimal

from orders.gateway import OrderConflict, PlaceResult, order_place
from orders.models import Order, OrderSource
from orders.slicing import twap_order_place
from trading_site.audit import action_record
from trading_site.lib.actors import Actor
from trading_site.lib.errors import DomainError


def manual_order_submit(
    *,
    actor: Actor,
    symbol: str,
    side: str,
    qty: Decimal | str,
    order_type: str,
    limit_price: Decimal | str | None,
    time_in_force: str,
    reason: str,
    client_order_id: str,
    slices: int | None = None,
    horizon_minutes: Decimal | None = None,
) -> PlaceResult:
    """Place a confirmed manual order — or, with ``slices`` and ``horizon_minutes``, a TWAP parent
    (``orders.slicing.twap_order_place``). Re-raises the refusal after recording it.

    The same ``client_order_id`` twice (a double-clicked Confirm) is one order and one action.
    """
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("A reason is required.", code="validation_error", fields={"reason": ["A reason is required."]})
    request = {"symbol": symbol, "side": side, "qty": str(qty), "order_type": order_type,
               "limit_price": str(limit_price) if limit_price not in (None, "") else None,
               "time_in_force": time_in_force}
    if slices is not None:
        return _twap_submit(actor=actor, request=request, slices=slices, horizon_minutes=horizon_minutes,
                            reason=reason, client_order_id=client_order_id)
    try:
        result = order_place(symbol=symbol, side=side, qty=qty, order_type=order_type, limit_price=limit_price or None,
                             time_in_force=time_in_force, source=OrderSource.MANUAL, actor=actor, reason=reason,
                             client_order_id=client_order_id)
    except OrderConflict:
        raise  # the id belongs to another order: nothing of ours to record
    except DomainError as exc:
        refused = Order.objects.filter(client_order_id=client_order_id, created_by=actor).first()
        if refused is not None:  # stored by the gateway as rejected/failed (input errors store nothing)
            action_record(actor=actor, action="order.manual", target=refused, reason=reason,
                          data={**request, "rejected": exc.code})
        raise
    if result.created:
        order = result.order
        action_record(actor=actor, action="order.manual", target=order, reason=reason,
                      data={**request, "client_order_id": order.client_order_id, "status": order.status})
    return result


def _twap_submit(*, actor, request: dict, slices: int, horizon_minutes: Decimal | None, reason: str,
                 client_order_id: str) -> PlaceResult:

    # The slicing service says whether it created the parent (the unique client_order_id decides a
    # concurrent double submit), so exactly one manual-order action is recorded per parent.
    try:
        result = twap_order_place(
            symbol=request["symbol"], side=request["side"], qty=request["qty"], slices=slices,
            horizon_minutes=horizon_minutes, actor=actor, source=OrderSource.MANUAL, reason=reason,
            order_type=request["order_type"], limit_price=request["limit_price"], client_order_id=client_order_id,
        )
    except OrderConflict:
        raise
    except DomainError as exc:
        # A pre-trade refusal of the whole parent is stored as a rejected parent without children.
        refused = Order.objects.filter(client_order_id=client_order_id, created_by=actor).first()
        if refused is not None:
            action_record(actor=actor, action="order.manual", target=refused, reason=reason,
                          data={**request, "rejected": exc.code, "twap_slices": slices,
                                "horizon_minutes": str(horizon_minutes)})
        raise
    parent = result.order
    if result.created:
        action_record(actor=actor, action="order.manual", target=parent, reason=reason,
                      data={**request, "client_order_id": parent.client_order_id, "status": parent.status,
                            "twap_slices": parent.total_slices, "horizon_minutes": str(horizon_minutes)})
    return result
