"""The execution gateway: the ONE way to place, cancel and resolve orders with a broker.

``order_place`` (``order_place`` returns just the order):

1. validate (symbol exists and is tradable, quantity, whole shares unless fractionable, limit-price
   rules incl. sub-penny) — bad input raises :class:`OrderInputError` and stores nothing;
2. idempotency: an existing ``client_order_id`` returns the existing order (no broker call). The
   unique constraint decides races: the loser of a concurrent insert gets the winner's order;
3. run the pre-trade checks (``orders.pretrade.run_checks``); a rejection is stored as a
   ``rejected`` order with the check's code and an event, then re-raised (API: 422 with the code);
4. commit the order as ``submitting`` *before* calling the broker, then call the broker outside any
   transaction or row lock;
5. outcome: accepted → ``accepted`` + broker id; definite rejection → ``rejected`` + code (raised);
   429 → ``failed`` (raised, nothing was placed); timeout/5xx/connection error → ``unknown``, and
   :func:`order_resolve` later asks the broker for that ``client_order_id``. The gateway never
   resubmits under a new id; a duplicate-id answer from the broker means the order *is* there and
   is resolved by lookup.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, connection, transaction

from marketdata.selectors import asset_get
from orders import pretrade
from orders.book import atomic, book_active, persist, saved
from orders.brokers import get_broker
from orders.brokers.base import (
    BrokerError,
    BrokerOrder,
    BrokerOrderNotFound,
    BrokerRejected,
    BrokerUnavailable,
    DuplicateClientOrderId,
    RateLimited,
    SubmitRequest,
    TradeUpdate,
)
from orders.conf import conf, resolve_grace_seconds
from orders.fills import (
    NOT_AT_BROKER,
    order_event_record,
    order_revive,
    order_transition,
    trade_update_apply,
    trade_updates_apply,
    updates_pump,
)
from orders.models import (
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    Order,
    OrderEvent,
    OrderSource,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from orders.selectors import last_price
from trading_site.audit import action_record
from trading_site.lib import broker_budget, clock, queues
from trading_site.lib.actors import Actor
from trading_site.lib.errors import DomainError
from trading_site.lib.money import DecimalInputError, parse_price, parse_qty, whole_shares
from trading_site.lib.sql import fetch_one

logger = logging.getLogger(__name__)

CLIENT_ORDER_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
RESOLVABLE_STATUSES = frozenset(
    {OrderStatus.UNKNOWN, OrderStatus.SUBMITTING, OrderStatus.SUBMITTED, OrderStatus.ACCEPTED,
     OrderStatus.PARTIALLY_FILLED}
)
_AUDITED_SOURCES = {OrderSource.MANUAL, OrderSource.API, OrderSource.KILL_SWITCH}


class OrderInputError(DomainError):
    code = "validation_error"
    kind = "invalid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, fields={field: [message]})


class OrderConflict(DomainError):
    code = "CLIENT_ORDER_ID_CONFLICT"
    kind = "conflict"


class OrderNotCancelable(DomainError):
    code = "ORDER_NOT_CANCELABLE"
    kind = "conflict"


@dataclass(frozen=True, slots=True)
class PlaceResult:
    order: Order
    created: bool


def client_order_id_for(*, source: str, key: str) -> str:
    """A deterministic id for callers with a natural key (rebalance run + symbol, slice, flatten)."""
    digest = hashlib.sha256(f"{source}|{key}".encode()).hexdigest()[:32]
    return f"{source[:8]}-{digest}"


def client_order_id_new(source: str, now: dt.datetime) -> str:
    # Assigned once and committed before the broker call; every retry or resolve reuses it.
    return f"{source[:8]}-{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:20]}"


def client_order_id_check(value: object, *, max_length: int = 128) -> None:
    if not isinstance(value, str) or not CLIENT_ORDER_ID_RE.match(value):
        raise OrderInputError(
            "client_order_id", "client_order_id must be 1-128 characters of letters, digits and . _ : -"
        )
    if len(value) > max_length:
        raise OrderInputError("client_order_id", f"a TWAP client_order_id has at most {max_length} characters")


def _validate_limit_price(value: object) -> Decimal:
    try:
        price = parse_price(value, field="limit_price")
    except DecimalInputError as exc:
        raise OrderInputError("limit_price", str(exc)) from exc
    places = -price.normalize().as_tuple().exponent
    if price >= 1 and places > 2:
        raise OrderInputError("limit_price", "sub-penny price: at or above $1 use at most 2 decimal places")
    if price < 1 and places > 4:
        raise OrderInputError("limit_price", "sub-penny price: below $1 use at most 4 decimal places")
    return price


@dataclass(frozen=True, slots=True)
class Validated:
    symbol: str
    side: str
    qty: Decimal
    order_type: str
    limit_price: Decimal | None
    time_in_force: str
    source: str


# The choices as sets, built once (``Choices.values`` builds a new list on every access); input that
# is not text (a list from JSON) is refused before the look-up, which would raise on it.
_SIDES = frozenset(Side.values)
_ORDER_TYPES = frozenset(OrderType.values)
_TIMES_IN_FORCE = frozenset(TimeInForce.values)
_SOURCES = frozenset(OrderSource.values)


def order_validate(
    *, symbol: str, side: str, qty: object, order_type: str, limit_price: object, time_in_force: str, source: str
) -> Validated:
    if not isinstance(symbol, str) or not symbol.strip():
        raise OrderInputError("symbol", "symbol is required")
    symbol = symbol.strip().upper()
    if not isinstance(side, str) or side not in _SIDES:
        raise OrderInputError("side", "side must be buy or sell")
    if not isinstance(order_type, str) or order_type not in _ORDER_TYPES:
        raise OrderInputError("type", "type must be market or limit")
    if not isinstance(time_in_force, str) or time_in_force not in _TIMES_IN_FORCE:
        raise OrderInputError("time_in_force", "time_in_force must be day or gtc")
    if not isinstance(source, str) or source not in _SOURCES:
        raise OrderInputError("source", f"unknown source {source!r}")
    try:
        qty_d = parse_qty(qty)
    except DecimalInputError as exc:
        raise OrderInputError("qty", str(exc)) from exc
    asset = asset_get(symbol=symbol)
    if asset is None:
        raise OrderInputError("symbol", f"unknown symbol {symbol}")
    if not asset.tradable:
        raise DomainError(f"{symbol} is not tradable", code="ASSET_NOT_TRADABLE")
    if not asset.fractionable and whole_shares(qty_d) != qty_d:
        raise OrderInputError("qty", f"{symbol} trades in whole shares only")
    if whole_shares(qty_d) != qty_d and time_in_force != TimeInForce.DAY:
        raise OrderInputError("time_in_force", "fractional orders must be day orders")
    price = None
    if order_type == OrderType.LIMIT:
        if limit_price is None or limit_price == "":
            raise OrderInputError("limit_price", "a limit order needs a limit_price")
        price = _validate_limit_price(limit_price)
    elif limit_price not in (None, ""):
        raise OrderInputError("limit_price", "a market order takes no limit_price")
    return Validated(symbol, side, qty_d, order_type, price, time_in_force, source)


def same_request(order: Order, v: Validated) -> bool:
    return (
        order.symbol == v.symbol
        and order.side == v.side
        and order.qty == v.qty
        and order.order_type == v.order_type
        and order.limit_price == v.limit_price
    )


def _existing(order: Order, v: Validated) -> PlaceResult:
    if not same_request(order, v):
        raise OrderConflict(f"client_order_id {order.client_order_id} is already used by a different order")
    return PlaceResult(order=order, created=False)


def _order_insert(order: Order) -> None:
    """Insert a new order row now (live; the unique client_order_id decides races) or keep it in the
    replay's book (``orders.book``), indexed as the look-ups below read it."""
    book = book_active()
    if book is None:
        order.save(force_insert=True)
        return
    book.add(order)
    book.orders[order.client_order_id] = order
    book.orders_by_pk[order.pk] = order
    book.working[order.pk] = order


def _order_get(pk: int, *, lock: bool = False) -> Order:
    """The order row (locked for the transaction when ``lock``), or the replay book's instance."""
    book = book_active()
    if book is not None:
        return book.orders_by_pk[pk]
    return (Order.objects.select_for_update() if lock else Order.objects).get(pk=pk)


def _order_copy(order: Order, source: Order) -> None:
    """Give the caller's instance the row state another instance (the locked one) just wrote."""
    for f in Order._meta.concrete_fields:
        setattr(order, f.attname, getattr(source, f.attname))


_ORDER_ID_SQL = f"SELECT id FROM {Order._meta.db_table} WHERE client_order_id = %s"


def _order_id_by_client_id(client_order_id: str) -> int | None:
    """The idempotency look-up every placement makes (plain SQL: see ``trading_site.lib.sql``)."""
    book = book_active()
    if book is not None:
        order = book.orders.get(client_order_id)
        return None if order is None else order.pk
    row = fetch_one(_ORDER_ID_SQL, [client_order_id])
    return None if row is None else row[0]


def reference_price_get(symbol: str) -> Decimal | None:
    try:
        return last_price(symbol=symbol)
    except BrokerError:
        return None


def intent_build(
    *,
    symbol: str,
    side: str,
    qty: Decimal,
    order_type: str,
    time_in_force: str,
    source: str,
    now: dt.datetime,
    limit_price: Decimal | None = None,
    extended_hours: bool = False,
    actor_id: int | None = None,
    parent_order_id: int | None = None,
    client_order_id: str = "",
    reference_price: Decimal | None = None,
) -> pretrade.OrderIntent:
    """The one place an order becomes a pre-trade intent (placement, a scheduled slice's send, previews).

    ``reference_price`` is looked up (last trade or quote) when not given.
    """
    return pretrade.OrderIntent(
        symbol=symbol,
        side=side,
        qty=qty,
        order_type=order_type,
        time_in_force=time_in_force,
        source=source,
        now=now,
        limit_price=limit_price,
        extended_hours=extended_hours,
        reference_price=reference_price if reference_price is not None else reference_price_get(symbol),
        actor_id=actor_id,
        parent_order_id=parent_order_id,
        client_order_id=client_order_id,
    )


@dataclass(frozen=True, slots=True)
class DryRun:
    """What :func:`order_dry_run` found: the validated order, its intent and every check's outcome."""

    order: Validated
    intent: pretrade.OrderIntent
    checks: list[pretrade.CheckOutcome]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def order_dry_run(
    *,
    symbol: str,
    side: str,
    qty: object,
    source: str,
    actor: Actor = None,
    order_type: str = OrderType.MARKET,
    limit_price: object = None,
    time_in_force: str = TimeInForce.DAY,
    extended_hours: bool = False,
) -> DryRun:
    """Validate an order exactly as :func:`order_place` does and run the pre-trade pipeline in preview
    (:func:`orders.pretrade.dry_run`): nothing is stored, sent or counted. Input errors raise as
    they would on placement; refusals by checks are returned, every one of them."""
    v = order_validate(symbol=symbol, side=side, qty=qty, order_type=order_type, limit_price=limit_price,
                       time_in_force=time_in_force, source=source)
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    intent = intent_build(symbol=v.symbol, side=v.side, qty=v.qty, order_type=v.order_type,
                          time_in_force=v.time_in_force, source=v.source, now=clock.now(), limit_price=v.limit_price,
                          extended_hours=extended_hours, actor_id=actor_obj.pk if actor_obj else None)
    return DryRun(order=v, intent=intent, checks=pretrade.dry_run(intent))


@broker_budget.placing()  # its quote lookups have the submission's priority in the request budget
def order_place(
    *,
    symbol: str,
    side: str,
    qty: object,
    source: str,
    actor: Actor = None,
    order_type: str = OrderType.MARKET,
    limit_price: object = None,
    time_in_force: str = TimeInForce.DAY,
    extended_hours: bool = False,
    client_order_id: str | None = None,
    reason: str = "",
    strategy: str = "",
    parent_order: Order | None = None,
    slice_num: int | None = None,
    total_slices: int | None = None,
) -> PlaceResult:
    v = order_validate(
        symbol=symbol,
        side=side,
        qty=qty,
        order_type=order_type,
        limit_price=limit_price,
        time_in_force=time_in_force,
        source=source,
    )
    now = clock.now()
    if client_order_id is not None:
        client_order_id_check(client_order_id)
        existing_id = _order_id_by_client_id(client_order_id)
        if existing_id is not None:  # the unique constraint below decides races
            return _existing(_order_get(existing_id), v)
    else:
        client_order_id = client_order_id_new(source, now)

    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    intent = intent_build(
        symbol=v.symbol,
        side=v.side,
        qty=v.qty,
        order_type=v.order_type,
        time_in_force=v.time_in_force,
        source=v.source,
        now=now,
        limit_price=v.limit_price,
        extended_hours=extended_hours,
        actor_id=actor_obj.pk if actor_obj else None,
        parent_order_id=parent_order.pk if parent_order else None,
        client_order_id=client_order_id,
    )
    reference = intent.reference_price
    rejection: pretrade.PreTradeRejection | None = None
    try:
        pretrade.run_checks(intent)
    except pretrade.PreTradeRejection as exc:
        rejection = exc

    try:
        with atomic():
            status = OrderStatus.REJECTED if rejection is not None else OrderStatus.SUBMITTING
            order = Order(
                client_order_id=client_order_id,
                symbol=v.symbol,
                side=v.side,
                order_type=v.order_type,
                qty=v.qty,
                limit_price=v.limit_price,
                time_in_force=v.time_in_force,
                extended_hours=extended_hours,
                status=status,
                reject_code=rejection.code if rejection is not None else "",
                reject_detail=rejection.detail if rejection is not None else "",
                source=v.source,
                strategy=strategy,
                created_by=actor_obj,
                reason=reason,
                reference_price=reference,
                parent_order=parent_order,
                slice_num=slice_num,
                total_slices=total_slices,
                created_at=now,
                updated_at=now,
            )
            _order_insert(order)
            # The row is inserted with its first status; the event records the step from "new".
            persist(OrderEvent(
                order=order,
                created_at=now,
                kind="pretrade_rejected" if rejection is not None else "created",
                from_status=OrderStatus.NEW,
                to_status=status,
                actor=actor_obj,
                data={"code": rejection.code, "detail": rejection.detail, **rejection.data} if rejection else {},
            ))
            if v.source in _AUDITED_SOURCES:
                action_record(
                    actor=actor_obj,
                    action="order.submit",
                    target=order,
                    reason=reason,
                    data={"symbol": v.symbol, "side": v.side, "qty": str(v.qty), "source": v.source,
                          "rejected": rejection.code if rejection else ""},
                )
    except IntegrityError:
        # Lost the race for this client_order_id (or a constraint failed): the winner's order is the answer.
        existing = Order.objects.filter(client_order_id=client_order_id).first()
        if existing is not None:
            return _existing(existing, v)
        raise
    if rejection is not None:
        raise rejection
    _broker_submit(order)
    return PlaceResult(order=order, created=True)



def _broker_submit(order: Order) -> None:
    broker = get_broker()
    request = SubmitRequest(
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side,
        qty=order.qty,
        order_type=order.order_type,
        time_in_force=order.time_in_force,
        limit_price=order.limit_price,
        extended_hours=order.extended_hours,
    )
    try:
        result = broker.submit_order(request)
    except DuplicateClientOrderId:
        # The broker already has this id: it is our order (we never reuse ids). Look it up.
        order_resolve(order_id=order.pk)
        order.refresh_from_db()
        return
    except RateLimited as exc:
        _order_finish(order, OrderStatus.FAILED, kind="rate_limited", code=exc.code, detail=exc.detail)
        raise
    except BrokerRejected as exc:
        _order_finish(order, OrderStatus.REJECTED, kind="broker_rejected", code=exc.code, detail=exc.detail)
        raise
    except Exception as exc:  # timeout, 5xx, connection error: the outcome is unknown
        detail = exc.detail if isinstance(exc, BrokerError) else f"{type(exc).__name__}: {exc}"
        logger.warning("broker submit outcome unknown for %s: %s", order.client_order_id, detail)
        _order_finish(order, OrderStatus.UNKNOWN, kind="submit_unknown", code="", detail=detail)
        _resolve_later(order.pk)
        return
    if not broker.synchronous_updates and _ack_apply(order, result):
        return
    # The acknowledgement and (inline simulated exchange) the executions it already produced are
    # applied under one lock in one transaction, and marked delivered in it.
    pending = broker.pending_updates(client_order_id=order.client_order_id) if broker.synchronous_updates else []
    ack = TradeUpdate(event="accepted", order=result, timestamp=clock.now(), origin="submit")
    _, fresh = trade_updates_apply(
        updates=[ack, *pending], on_applied=(lambda: broker.mark_delivered(pending)) if pending else None
    )
    if fresh is None:
        order.refresh_from_db()
    else:
        _order_copy(order, fresh)


def _ack_apply(order: Order, result: BrokerOrder) -> bool:
    """The broker accepted the order: move it on by compare-and-set from the status this caller
    holds (``submitting``), without a row lock. False when the row moved meanwhile (the trade
    stream got there first, a resolver ran) or the answer is unusual: the caller then applies the
    acknowledgement as an ordinary trade update under the row lock."""
    if result.status not in (OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED,
                             OrderStatus.FILLED) or not result.broker_order_id:
        return False
    now = clock.now()
    # As trade_update_apply maps it: the broker has the order; fill states follow the ledger's fills.
    to = OrderStatus.SUBMITTED if result.status == OrderStatus.SUBMITTED else OrderStatus.ACCEPTED
    fields = {"status": to, "updated_at": now}
    if not order.broker_order_id:
        fields["broker_order_id"] = result.broker_order_id
    if order.submitted_at is None and result.submitted_at is not None:
        fields["submitted_at"] = result.submitted_at
    event = {"created_at": now, "kind": "accepted", "from_status": order.status, "to_status": to,
             "data": {"origin": "submit"}}
    if connection.vendor == "postgresql":
        # One statement: the UPDATE and its event in a data-modifying CTE (every order pays this).
        sets = ", ".join(f"{Order._meta.get_field(name).column} = %s" for name in fields)
        sql = (f"WITH moved AS (UPDATE {Order._meta.db_table} SET {sets} WHERE id = %s AND status = %s RETURNING id) "
               f"INSERT INTO {OrderEvent._meta.db_table} (order_id, created_at, kind, from_status, to_status, data) "
               "SELECT id, %s, %s, %s, %s, %s::jsonb FROM moved RETURNING id")
        params = [*fields.values(), order.pk, order.status, now, event["kind"], event["from_status"], to,
                  json.dumps(event["data"])]
        if fetch_one(sql, params) is None:
            return False
    else:
        with transaction.atomic():
            if not Order.objects.filter(pk=order.pk, status=order.status).update(**fields):
                return False
            OrderEvent.objects.create(order_id=order.pk, **event)
    for name, value in fields.items():
        setattr(order, name, value)
    return True


def _order_finish(order: Order, status: str, *, kind: str, code: str, detail: str) -> None:
    now = clock.now()
    with transaction.atomic():
        locked = _order_get(order.pk, lock=True)
        if locked.status in (OrderStatus.SUBMITTING, OrderStatus.UNKNOWN):
            if code:
                locked.reject_code, locked.reject_detail = code, detail
            order_transition(order=locked, to=status, kind=kind, now=now, data={"code": code, "detail": detail})
            saved(locked, fields=["status", "reject_code", "reject_detail", "updated_at"])
    # The locked row is the current state (also when another caller moved it first): no re-read.
    _order_copy(order, locked)


def _resolve_later(order_id: int) -> None:
    # orders.tasks imports this module (a cycle inside orders)
    from orders.tasks import resolve_order

    def enqueue() -> None:
        try:
            resolve_order.apply_async(
                kwargs={"order_id": order_id}, countdown=max(conf.unknown_grace_seconds, 1), queue=queues.ORDERS
            )
        except Exception:  # the beat reconciliation resolves it anyway
            logger.exception("could not enqueue the resolver for order %s", order_id)

    transaction.on_commit(enqueue)


def _in_flight(order: Order) -> bool:
    """True while a submission of this order may still be on its way to the broker: younger (since
    it entered ``submitting``/``unknown``) than the grace period, which is above the broker timeout."""

    if order.status not in (OrderStatus.SUBMITTING, OrderStatus.UNKNOWN):
        return False
    return (clock.now() - order.updated_at).total_seconds() < resolve_grace_seconds()


def order_resolve(*, order_id: int) -> Order:
    """Ask the broker about an order whose outcome is unknown (or stuck in ``submitting``).

    Found → its state and fills are applied. Not found → while the submission may still be in flight
    (younger than the grace period, see :func:`_in_flight`) nothing changes: unknown is not failed.
    After it, the order never reached the broker and is marked ``failed``/``NOT_AT_BROKER`` (it is
    never resubmitted under a new id). That verdict stays provisional: a later acknowledgement or
    fill (stream, poll, reconciliation) revives the order to its true state, with an event and an
    alert (``orders.fills``).
    """
    order = Order.objects.get(pk=order_id)
    not_at_broker = order.status == OrderStatus.FAILED and order.reject_code == NOT_AT_BROKER
    if order.status not in RESOLVABLE_STATUSES and not not_at_broker:
        return order
    broker = get_broker()
    found = broker.get_order_by_client_id(order.client_order_id)
    if found is None and _in_flight(order):
        return order  # the answer may still be on its way: an in-flight slice is not resent either
    if found is None:
        if _slice_resendable(order):
            # A TWAP slice claimed by a worker that died before (or while) calling the broker. The
            # broker refuses a duplicate client_order_id, so sending under the SAME id is safe even
            # if the first call is still in flight.
            # The pre-trade checks run again: the worker may have died before they ran.
            order_event_record(order=order, kind="resent", now=clock.now(), data={"why": "stuck in submitting"})
            return order_send_claimed(order_id=order_id)
        if order.status in (OrderStatus.UNKNOWN, OrderStatus.SUBMITTING):
            _order_finish(order, OrderStatus.FAILED, kind="not_at_broker", code=NOT_AT_BROKER,
                          detail="the broker has no order with this client_order_id")
            return order  # _order_finish left it at the locked row's state
        return Order.objects.get(pk=order_id)
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order_id)
        late = locked.status == OrderStatus.FAILED and locked.reject_code == NOT_AT_BROKER
        if late:
            order_revive(order=locked, broker_order_id=found.broker_order_id, origin="reconcile")
        elif locked.status == OrderStatus.UNKNOWN:
            order_transition(order=locked, to=OrderStatus.SUBMITTED, kind="resolved", now=clock.now(),
                             data={"broker_order_id": found.broker_order_id, "was": locked.status})
            locked.save(update_fields=["status", "reject_code", "reject_detail", "updated_at"])
    event = {"filled": "fill", "partially_filled": "partial_fill"}.get(found.status, found.status)
    trade_update_apply(update=TradeUpdate(event=event, order=found, timestamp=clock.now(), origin="reconcile"))
    if broker.synchronous_updates:
        updates_pump(broker=broker, client_order_id=order.client_order_id)
    return Order.objects.get(pk=order_id)


def order_cancel(*, order: Order | int, actor: Actor = None, reason: str = "") -> Order:
    """Cancel one order. Scheduled (never sent) orders are canceled locally; sent ones at the broker."""
    order_id = order.pk if isinstance(order, Order) else order
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    now = clock.now()
    with transaction.atomic():
        locked = _order_get(order_id, lock=True)
        if locked.is_terminal:
            raise OrderNotCancelable(f"order {locked.client_order_id} is already {locked.status}")
        action_record(actor=actor_obj, action="order.cancel", target=locked, reason=reason,
                      data={"status": locked.status})
        if locked.status in (OrderStatus.SCHEDULED, OrderStatus.NEW):
            locked.canceled_at = now
            order_transition(order=locked, to=OrderStatus.CANCELED, kind="canceled", now=now, actor=actor_obj,
                             data={"reason": reason})
            saved(locked, fields=["status", "canceled_at", "updated_at"])
            is_parent = locked.parent_order_id is None and locked.total_slices is not None
            if not is_parent:
                return locked
        else:
            is_parent = False
            order_event_record(order=locked, kind="cancel_requested", now=now, actor=actor_obj,
                               data={"reason": reason})
    if is_parent:
        _children_cancel(parent_id=order_id, actor=actor, reason=reason)
        return _order_get(order_id)
    broker = get_broker()
    try:
        broker.cancel_order(broker_order_id=locked.broker_order_id, client_order_id=locked.client_order_id)
    except BrokerOrderNotFound:
        order_resolve(order_id=order_id)
    except BrokerUnavailable:
        logger.warning("cancel of %s: broker unavailable; reconciliation will retry", locked.client_order_id)
    if broker.synchronous_updates:
        updates_pump(broker=broker, client_order_id=locked.client_order_id)
    return _order_get(order_id)


def order_cancel_all(*, actor: Actor, reason: str, include_scheduled: bool = True) -> int:
    """Cancel every open order (and, by default, scheduled TWAP slices). Returns how many were canceled."""
    statuses = set(OPEN_STATUSES) | ({OrderStatus.SCHEDULED} if include_scheduled else set())
    count = 0
    for pk in Order.objects.filter(status__in=statuses).order_by("pk").values_list("pk", flat=True):
        try:
            result = order_cancel(order=pk, actor=actor, reason=reason)
        except OrderNotCancelable:
            continue
        count += result.status == OrderStatus.CANCELED or result.status in OPEN_STATUSES
    return count


def positions_flatten_all(*, actor: Actor, reason: str, source: str = OrderSource.KILL_SWITCH) -> list[Order]:
    """Market orders closing every non-zero position. Idempotent while a flatten order is working."""
    orders: list[Order] = []
    for pos in Position.objects.exclude(qty=0).order_by("symbol"):
        side = Side.SELL if pos.qty > 0 else Side.BUY
        key = f"flatten|{pos.symbol}|{pos.qty}|{pos.updated_at.isoformat()}"
        try:
            orders.append(
                order_place(
                    symbol=pos.symbol,
                    side=side,
                    qty=abs(pos.qty),
                    source=source,
                    actor=actor,
                    reason=reason,
                    client_order_id=client_order_id_for(source=source, key=key),
                ).order
            )
        except DomainError as exc:
            logger.error("flatten %s failed: %s", pos.symbol, exc)
    return orders


def _children_cancel(*, parent_id: int, actor, reason: str) -> None:
    """Cancel a TWAP parent's unsent (locally) and open (at the broker) children; one failure never stops the rest."""

    ids = (
        Order.objects.filter(parent_order_id=parent_id)
        .exclude(status__in=TERMINAL_STATUSES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in list(ids):
        try:
            order_cancel(order=pk, actor=actor, reason=reason or "parent canceled")
        except OrderNotCancelable:
            continue
        except BrokerError as exc:
            logger.warning("cancel of TWAP child %s failed: %s (reconciliation retries)", pk, exc)


# --- scheduled orders (TWAP slices) ----------------------------------------------------------------


def _slice_resendable(order: Order) -> bool:
    if order.status != OrderStatus.SUBMITTING or order.parent_order_id is None:
        return False
    parent_status = Order.objects.filter(pk=order.parent_order_id).values_list("status", flat=True).first()
    return parent_status != OrderStatus.CANCELED


def _broker_submit_quiet(order: Order) -> None:
    """``_broker_submit`` whose definite refusals are already recorded on the order (not re-raised)."""
    try:
        _broker_submit(order)
    except (BrokerRejected, RateLimited) as exc:
        logger.info("order %s refused by the broker: %s", order.client_order_id, exc.detail)


def order_claim_scheduled(*, order_id: int, now: dt.datetime | None = None) -> bool:
    """Compare-and-set ``scheduled`` → ``submitting`` for a due order. True for exactly one caller."""
    now = now or clock.now()
    with transaction.atomic():
        claimed = Order.objects.filter(
            pk=order_id, status=OrderStatus.SCHEDULED, scheduled_time__lte=now
        ).update(status=OrderStatus.SUBMITTING, updated_at=now)
        if claimed == 1:
            OrderEvent.objects.create(
                order_id=order_id, created_at=now, kind="claimed", from_status=OrderStatus.SCHEDULED,
                to_status=OrderStatus.SUBMITTING, data={},
            )
    return claimed == 1


@broker_budget.placing()
def order_send_claimed(*, order_id: int) -> Order:
    """Send an order this caller claimed (status ``submitting``): pre-trade checks, then the broker.

    A pre-trade rejection (kill switch, circuit breaker, market hours, limits) marks the order
    ``rejected`` with the check's code and an event; the broker is not called. The broker call
    happens outside any transaction and row lock, under the order's own ``client_order_id``.
    """
    order = Order.objects.get(pk=order_id)
    if order.status != OrderStatus.SUBMITTING:
        return order
    if order.parent_order_id is not None and not _slice_resendable(order):
        _order_finish(order, OrderStatus.CANCELED, kind="canceled", code="", detail="parent canceled")
        return order
    intent = intent_build(
        symbol=order.symbol,
        side=order.side,
        qty=order.qty,
        order_type=order.order_type,
        time_in_force=order.time_in_force,
        source=order.source,
        now=clock.now(),
        limit_price=order.limit_price,
        extended_hours=order.extended_hours,
        actor_id=order.created_by_id,
        parent_order_id=order.parent_order_id,
        client_order_id=order.client_order_id,
    )
    try:
        pretrade.run_checks(intent)
    except pretrade.PreTradeRejection as exc:
        _order_finish(order, OrderStatus.REJECTED, kind="pretrade_rejected", code=exc.code, detail=exc.detail)
        return order
    _broker_submit_quiet(order)
    return order


def order_send_scheduled(*, order_id: int) -> Order:
    """Send an existing ``scheduled`` order that is due: claim (compare-and-set), check, submit.

    Safe to call any number of times concurrently: only the caller that wins the claim sends it.
    """
    if not order_claim_scheduled(order_id=order_id):
        return Order.objects.get(pk=order_id)
    return order_send_claimed(order_id=order_id)
