"""TWAP execution services: create a parent with its scheduled children, dispatch due slices, sweep.

Design (docs/CONCEPTS/order-slicing.md, ADR 0015):

- :func:`twap_order_place` validates like the gateway, plans with the pure
  :class:`orders.twap.TWAPSlicer`, runs the gateway's pre-trade checks once on the whole parent
  (:func:`twap_parent_intent`: kill switch, breakers, rollout phase, limits on the whole quantity)
  — a refused parent is stored ``rejected`` with the code and no children, and the refusal is
  raised (422) — and writes the parent plus N children (status ``scheduled``,
  absolute ``scheduled_time``) in ONE transaction (one ``INSERT … SELECT FROM unnest`` on PostgreSQL). The parent is never sent to
  a broker; its status is ``scheduled`` while any child is working and becomes ``filled`` (every
  share filled) or ``canceled`` (finished short: canceled, blocked or failed slices) when the last
  child is terminal. Its own ``filled_qty`` stays 0 — the fills live on the children, so ledger
  sums never count a share twice. ``reference_price`` on the parent is the arrival price (TCA).
- The database is the schedule: :func:`slices_dispatch_due` (a Celery beat task every second)
  picks due rows and each goes through :func:`slice_dispatch` — a compare-and-set claim
  (``scheduled`` → ``submitting``), partial-fill catch-up, then the gateway's pre-trade checks and
  broker call (``orders.gateway.order_send_claimed``). Only the claim winner sends a slice, so a
  duplicated task or a restarted beat cannot double it.
- Catch-up: before a slice goes out, earlier children still open at the broker are canceled and
  the quantity not filled (or not sent: blocked) rolls forward: this slice = remaining ÷
  slices left (whole shares spread like the plan), the last slice takes everything that remains.
  A remainder rolls forward only once the broker has confirmed it will not fill (the child is
  *released*: cancel acknowledged, filled, expired, rejected): until then the child counts at its
  full quantity, so the parent can never over-fill — every child's quantity is fixed before it is
  sent and the sum of (released children's fills + other children's quantities + this slice) never
  exceeds the parent's quantity (computed under the parent's row lock).
- A ``failed`` child is never released: "not at the broker" is provisional (a late acknowledgement
  revives it) and a 429 after a timed-out attempt may hide a placed order. It keeps its quantity and,
  once no slice is scheduled any more, is sent again under its OWN ``client_order_id``
  (event ``resent``; backing off 2, 4, … 60 s, at most ``TWAP_RESEND_MAX`` times, 8 by default; then
  the parent finishes short of it rather than risk a second placement): the broker refuses a
  duplicate id, so whatever happened to the first attempt the child is placed at most once — if
  the broker had it after all, the duplicate answer is resolved by lookup. Over-fill is therefore
  impossible by construction, also for a revived ``NOT_AT_BROKER`` child (ADR 0022).
- Remainder after the last slice: cancel confirmations arrive after later slices were sized (Alpaca,
  the simulated stream), so :func:`parents_finalize` first resends failed children (above), then
  gives a parent with no scheduled child left and quantity still uncommitted a *catch-up* child (``slice_num`` ≥ ``total_slices``, id suffix
  ``-c<k>``) for exactly that remainder, while it has time left (before its session's close),
  was not canceled, and none of its children was refused (rejected by a check or the broker: the
  refusal stands). Catch-ups after a failed one back off (2, 4, … 60 s); at most
  ``TWAP_CATCHUP_MAX`` per parent.
- :func:`slices_sweep` recovers slices stuck in ``submitting`` (a worker died between the claim and
  the broker's answer) through ``order_resolve``: found at the broker → its state is applied; not
  found → resent under the SAME ``client_order_id`` (the broker refuses a duplicate id).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Sum

from marketdata import market_clock
from marketdata.selectors import asset_get
from orders import pretrade
from orders.book import book_active
from orders.conf import conf
from orders.gateway import (
    DryRun,
    OrderConflict,
    OrderInputError,
    PlaceResult,
    client_order_id_check,
    client_order_id_new,
    order_cancel,
    order_claim_scheduled,
    order_resolve,
    order_send_claimed,
    order_validate,
    reference_price_get,
    same_request,
)
from orders.models import TERMINAL_STATUSES, Order, OrderEvent, OrderSource, OrderStatus, TimeInForce
from orders.twap import MAX_SLICES, TWAPPlanError, TWAPSlicer
from trading_site.audit import action_record
from trading_site.lib import clock
from trading_site.lib.actors import Actor

logger = logging.getLogger(__name__)

# A start time this far in the past is still accepted (clock skew between a client and the server).
START_TOLERANCE = dt.timedelta(seconds=60)
# A TWAP starts within the trading week ahead (five sessions fit in seven days); later is a typo
# (9999-12-31 overflowed the session arithmetic, 2099 scheduled slices for 2099).
START_AHEAD_MAX = dt.timedelta(days=7)
SLICE_SUFFIX_MAX = len(f"-s{MAX_SLICES - 1}")
CATCHUP_MAX = 50  # catch-up children per parent; "-c49" fits within SLICE_SUFFIX_MAX
# Children whose unfilled quantity the broker confirmed will not fill: it may roll forward.
RELEASED_STATUSES = TERMINAL_STATUSES - {OrderStatus.FAILED}
DISPATCH_BATCH = 200
_AUDITED_SOURCES = {OrderSource.MANUAL, OrderSource.API}


def _horizon(value: object) -> dt.timedelta:
    try:
        minutes = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError) as exc:
        raise OrderInputError("horizon_minutes", "horizon_minutes must be a number") from exc
    if isinstance(value, bool) or not minutes.is_finite() or minutes <= 0:
        raise OrderInputError("horizon_minutes", "horizon_minutes must be positive")
    if minutes > 7 * 24 * 60:
        raise OrderInputError("horizon_minutes", "horizon_minutes must be at most one week")
    return dt.timedelta(seconds=float(minutes * 60))


def _session_horizon(*, start: dt.datetime, horizon: dt.timedelta, clip_to_close: bool) -> dt.timedelta:
    """Reject (or clip) a horizon that runs past the session close; always-open simulation: unchanged."""

    if market_clock.always_open():
        return horizon
    if not market_clock.is_open(start):
        raise OrderInputError("start_time", "the market is closed at the start time; TWAP runs in regular hours")
    close = market_clock.session_close(start.astimezone(clock.NEW_YORK).date())
    end = start + horizon
    if close is not None and end > close:
        if not clip_to_close:
            ny_close = close.astimezone(clock.NEW_YORK).strftime("%H:%M")
            raise OrderInputError(
                "horizon_minutes",
                f"the horizon ends after the session close ({ny_close} New York); shorten it or ask to clip to the close",
            )
        horizon = close - start
    return horizon



def twap_order_place(
    *,
    symbol: str,
    side: str,
    qty: object,
    slices: int,
    horizon_minutes: object,
    actor: Actor,
    source: str,
    reason: str = "",
    start_time: dt.datetime | None = None,
    order_type: str = "market",
    limit_price: object = None,
    strategy: str = "",
    clip_to_close: bool = False,
    client_order_id: str | None = None,
) -> PlaceResult:
    """Create a TWAP parent and its scheduled children (one transaction). Returns the parent and
    whether this call created it.

    Idempotent by ``client_order_id``: the same id with the same request returns the existing parent;
    with a different request it is a conflict (409). Bad input raises a 4xx domain error and stores
    nothing. A pre-trade refusal of the whole parent stores it ``rejected`` with no children and
    raises :class:`~orders.pretrade.PreTradeRejection` (422 with the code).
    """
    if book_active() is not None:
        # A parent and its children live on the database rows the dispatcher claims: a replay runs a
        # TWAP day on its store, never in its book (workflow.replay).
        raise RuntimeError("TWAP parents are not kept in a replay's book (orders.book)")
    v, planned, start, horizon, now = _twap_validate(
        symbol=symbol, side=side, qty=qty, slices=slices, horizon_minutes=horizon_minutes, source=source,
        start_time=start_time, order_type=order_type, limit_price=limit_price, clip_to_close=clip_to_close,
    )
    if client_order_id is not None:
        client_order_id_check(client_order_id, max_length=128 - SLICE_SUFFIX_MAX)
        existing = Order.objects.filter(client_order_id=client_order_id).first()
        if existing is not None:
            return _existing_parent(existing, v=v)
    else:
        client_order_id = client_order_id_new(source, now)

    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    arrival = reference_price_get(v.symbol)
    intent = twap_parent_intent(
        symbol=v.symbol, side=v.side, qty=v.qty, order_type=v.order_type, limit_price=v.limit_price, source=v.source,
        planned=planned, start=max(start, now), reference_price=arrival,
        actor_id=actor_obj.pk if actor_obj else None, client_order_id=client_order_id,
    )
    try:
        pretrade.run_checks(intent)
    except pretrade.PreTradeRejection as exc:
        return _parent_refused(v=v, planned=planned, rejection=exc, client_order_id=client_order_id,
                               actor_obj=actor_obj, reason=reason, strategy=strategy, arrival=arrival, now=now)
    try:
        with transaction.atomic():
            parent = Order.objects.create(
                client_order_id=client_order_id, symbol=v.symbol, side=v.side, order_type=v.order_type,
                qty=v.qty, limit_price=v.limit_price, time_in_force=TimeInForce.DAY, status=OrderStatus.SCHEDULED,
                source=v.source, strategy=strategy, created_by=actor_obj, reason=reason, reference_price=arrival,
                total_slices=len(planned), created_at=now, updated_at=now,
            )
            _children_insert(
                template=Order(
                    symbol=v.symbol, side=v.side, order_type=v.order_type, limit_price=v.limit_price,
                    time_in_force=TimeInForce.DAY, status=OrderStatus.SCHEDULED, source=OrderSource.TWAP,
                    strategy=strategy, created_by=actor_obj, reason=reason, parent_order=parent,
                    total_slices=len(planned), created_at=now, updated_at=now,
                ),
                client_order_id=client_order_id,
                planned=planned,
            )
            OrderEvent.objects.create(
                order=parent, created_at=now, kind="twap_created", from_status=OrderStatus.NEW,
                to_status=OrderStatus.SCHEDULED, actor=actor_obj,
                data={"slices": len(planned), "requested_slices": slices, "horizon_seconds": horizon.total_seconds(),
                      "start": start.isoformat(), "arrival_price": str(arrival) if arrival is not None else None},
            )
            if v.source in _AUDITED_SOURCES:
                action_record(
                    actor=actor_obj, action="order.twap_create", target=parent, reason=reason,
                    data={"symbol": v.symbol, "side": v.side, "qty": str(v.qty), "slices": len(planned),
                          "horizon_seconds": horizon.total_seconds()},
                )
    except IntegrityError:
        existing = Order.objects.filter(client_order_id=client_order_id).first()
        if existing is None:
            raise
        return _existing_parent(existing, v=v)
    return PlaceResult(order=parent, created=True)


def _twap_validate(
    *, symbol: str, side: str, qty: object, slices: int, horizon_minutes: object, source: str,
    start_time: dt.datetime | None, order_type: str, limit_price: object, clip_to_close: bool,
):
    """Validate a TWAP request and plan its slices (placement and preview): (validated, planned, start,
    horizon, now). Bad input raises a 4xx domain error and stores nothing."""
    v = order_validate(
        symbol=symbol, side=side, qty=qty, order_type=order_type, limit_price=limit_price,
        time_in_force=TimeInForce.DAY, source=source,
    )
    if isinstance(slices, bool) or not isinstance(slices, int):
        raise OrderInputError("slices", "slices must be a whole number")
    if slices <= 0 or slices > MAX_SLICES:
        raise OrderInputError("slices", f"slices must be between 1 and {MAX_SLICES}")
    horizon = _horizon(horizon_minutes)
    now = clock.now()
    if start_time is None:
        start = now
    else:
        if start_time.tzinfo is None:
            raise OrderInputError("start_time", "start_time must include a timezone")
        if start_time < now - START_TOLERANCE:
            raise OrderInputError("start_time", "start_time is in the past")
        if start_time > now + START_AHEAD_MAX:
            raise OrderInputError("start_time", f"start_time must be within the next {START_AHEAD_MAX.days} days "
                                                "(the trading week ahead)")
        start = start_time
    horizon = _session_horizon(start=start, horizon=horizon, clip_to_close=clip_to_close)
    asset = asset_get(symbol=v.symbol)
    min_lot = asset.min_lot if asset is not None else None
    if min_lot is not None and v.qty < min_lot:
        raise OrderInputError("qty", f"qty {v.qty} is below the minimum lot of {min_lot} for {v.symbol}")
    try:
        planned = TWAPSlicer(total_qty=v.qty, n_slices=slices, horizon=horizon, min_lot=min_lot).plan(start)
    except TWAPPlanError as exc:
        raise OrderInputError("algo", str(exc)) from exc
    return v, planned, start, horizon, now


def twap_dry_run(
    *,
    symbol: str,
    side: str,
    qty: object,
    slices: int,
    horizon_minutes: object,
    source: str,
    actor: Actor = None,
    start_time: dt.datetime | None = None,
    order_type: str = "market",
    limit_price: object = None,
    clip_to_close: bool = False,
) -> DryRun:
    """Validate a TWAP parent exactly as :func:`twap_order_place` does and run the pre-trade pipeline on
    the whole parent in preview (:func:`orders.pretrade.dry_run`): nothing is stored, sent or counted."""
    v, planned, start, _, now = _twap_validate(
        symbol=symbol, side=side, qty=qty, slices=slices, horizon_minutes=horizon_minutes, source=source,
        start_time=start_time, order_type=order_type, limit_price=limit_price, clip_to_close=clip_to_close,
    )
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    intent = twap_parent_intent(
        symbol=v.symbol, side=v.side, qty=v.qty, order_type=v.order_type, limit_price=v.limit_price, source=v.source,
        planned=planned, start=max(start, now), reference_price=reference_price_get(v.symbol),
        actor_id=actor_obj.pk if actor_obj else None,
    )
    return DryRun(order=v, intent=intent, checks=pretrade.dry_run(intent))


def twap_parent_intent(
    *, symbol: str, side: str, qty: Decimal, order_type: str, limit_price: Decimal | None, source: str,
    planned: list, start: dt.datetime, reference_price: Decimal | None, actor_id: int | None = None,
    client_order_id: str = "",
) -> pretrade.OrderIntent:
    """The pre-trade intent of a whole TWAP parent (creation and the console preview check this one).

    ``now`` is the parent's start (market hours are judged when it trades); ``slice_qty`` is its
    largest planned slice (see :class:`orders.pretrade.OrderIntent`)."""
    return pretrade.OrderIntent(
        symbol=symbol, side=side, qty=qty, order_type=order_type, time_in_force=TimeInForce.DAY, source=source,
        now=start, limit_price=limit_price, reference_price=reference_price, actor_id=actor_id,
        client_order_id=client_order_id, slice_qty=max(p.qty for p in planned),
    )


def _parent_refused(*, v, planned: list, rejection: pretrade.PreTradeRejection, client_order_id: str, actor_obj,
                    reason: str, strategy: str, arrival: Decimal | None, now: dt.datetime) -> PlaceResult:
    """Store a refused parent as ``rejected`` with the check's code and NO children, then re-raise
    (API and console: 422 with the code). Like a refused gateway order, the row keeps the refusal
    visible and makes a retry under the same ``client_order_id`` return it instead of a second try."""
    try:
        with transaction.atomic():
            parent = Order.objects.create(
                client_order_id=client_order_id, symbol=v.symbol, side=v.side, order_type=v.order_type,
                qty=v.qty, limit_price=v.limit_price, time_in_force=TimeInForce.DAY, status=OrderStatus.REJECTED,
                reject_code=rejection.code, reject_detail=rejection.detail, source=v.source, strategy=strategy,
                created_by=actor_obj, reason=reason, reference_price=arrival, total_slices=len(planned),
                created_at=now, updated_at=now,
            )
            OrderEvent.objects.create(
                order=parent, created_at=now, kind="pretrade_rejected", from_status=OrderStatus.NEW,
                to_status=OrderStatus.REJECTED, actor=actor_obj,
                data={"code": rejection.code, "detail": rejection.detail, "slices": len(planned), **rejection.data},
            )
            if v.source in _AUDITED_SOURCES:
                action_record(
                    actor=actor_obj, action="order.twap_create", target=parent, reason=reason,
                    data={"symbol": v.symbol, "side": v.side, "qty": str(v.qty), "slices": len(planned),
                          "rejected": rejection.code},
                )
    except IntegrityError:
        existing = Order.objects.filter(client_order_id=client_order_id).first()
        if existing is None:
            raise
        return _existing_parent(existing, v=v)
    raise rejection


_VARYING = ("client_order_id", "qty", "slice_num", "scheduled_time")
_ARRAY_TYPES = {"client_order_id": "text[]", "qty": "numeric[]", "slice_num": "integer[]",
                "scheduled_time": "timestamptz[]"}


def _children_insert(*, template: Order, client_order_id: str, planned: list) -> None:
    """Insert the children. On PostgreSQL one ``INSERT … SELECT … FROM unnest(arrays)`` statement:
    the columns that differ per slice travel as four arrays, the rest once — a parent with 390
    children is written several times faster than with ``bulk_create``'s 30-column row tuples.
    Elsewhere (the embedded SQLite run) ``bulk_create``."""
    rows = [(f"{client_order_id}-s{p.slice_num}", p.qty, p.slice_num, p.scheduled_time) for p in planned]
    if connection.vendor != "postgresql":
        fields = {name: getattr(template, name) for name in ("symbol", "side", "order_type", "limit_price",
                  "time_in_force", "status", "source", "strategy", "created_by_id", "reason", "parent_order_id",
                  "total_slices", "created_at", "updated_at")}
        Order.objects.bulk_create([Order(**fields, **dict(zip(_VARYING, row, strict=True))) for row in rows])
        return
    columns, selects, params = [], [], []
    for field in Order._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.attname in _VARYING:
            selects.append(f"u.{field.attname}")
        else:
            selects.append("%s")
            params.append(field.get_db_prep_save(field.pre_save(template, add=True), connection))
    arrays = [[row[i] for row in rows] for i in range(len(_VARYING))]
    unnest = ", ".join(f"%s::{_ARRAY_TYPES[name]}" for name in _VARYING)
    sql = (
        f"INSERT INTO {connection.ops.quote_name(Order._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(selects)} FROM unnest({unnest}) AS u({', '.join(_VARYING)})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *arrays])


def _existing_parent(existing: Order, *, v) -> PlaceResult:
    is_parent = existing.total_slices is not None and existing.parent_order_id is None
    if not (is_parent and same_request(existing, v)):
        raise OrderConflict(f"client_order_id {existing.client_order_id} is already used by a different order")
    return PlaceResult(order=existing, created=False)


# --- dispatch ------------------------------------------------------------------------------------


def _earlier_cancel(*, child: Order) -> None:
    """Cancel earlier children still open at the broker (outside any transaction: broker calls)."""
    parent_id = child.parent_order_id
    earlier_open = (
        Order.objects.filter(parent_order_id=parent_id, slice_num__lt=child.slice_num)
        .filter(status__in=[OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in list(earlier_open):
        try:
            order_cancel(order=pk, actor=None, reason="TWAP catch-up: the unfilled remainder rolls forward")
        except Exception:  # the remainder then counts as still working: catch-up never over-buys
            logger.exception("TWAP catch-up: cancel of child %s failed", pk)


def _slice_qty(*, child: Order) -> Decimal:
    """This slice's quantity: what the parent still needs ÷ slices left (the last takes all)."""
    parent_id = child.parent_order_id
    # The parent's row lock serializes catch-up between slices of one parent dispatched concurrently
    # (no broker call happens under it): each sees its siblings' final quantities.
    parent = Order.objects.select_for_update().get(pk=parent_id)
    committed = Decimal(0)
    later_scheduled = 0
    siblings = Order.objects.filter(parent_order_id=parent_id).exclude(pk=child.pk)
    for status, qty, filled, num in siblings.values_list("status", "qty", "filled_qty", "slice_num"):
        if status == OrderStatus.SCHEDULED:
            later_scheduled += num > child.slice_num
            continue
        committed += filled if status in RELEASED_STATUSES else qty
    remaining = parent.qty - committed
    left = 1 + later_scheduled
    if remaining <= 0 or left == 1:
        return remaining
    try:
        return TWAPSlicer(total_qty=remaining, n_slices=left, horizon=dt.timedelta(seconds=left)).plan(clock.now())[0].qty
    except TWAPPlanError:
        return remaining


def slice_dispatch(*, order_id: int) -> Order:
    """Claim one due slice, roll forward earlier remainders, then send it through the gateway."""
    if not order_claim_scheduled(order_id=order_id):
        return Order.objects.get(pk=order_id)
    child = Order.objects.get(pk=order_id)
    _earlier_cancel(child=child)
    with transaction.atomic():
        qty = _slice_qty(child=child)
        now = clock.now()
        if qty <= 0:
            updated = Order.objects.filter(pk=order_id, status=OrderStatus.SUBMITTING).update(
                status=OrderStatus.CANCELED, canceled_at=now, updated_at=now
            )
            if updated:
                OrderEvent.objects.create(order_id=order_id, created_at=now, kind="nothing_left",
                                          from_status=OrderStatus.SUBMITTING, to_status=OrderStatus.CANCELED,
                                          data={"remaining": str(qty)})
        elif qty != child.qty:
            Order.objects.filter(pk=order_id, status=OrderStatus.SUBMITTING).update(qty=qty, updated_at=now)
            OrderEvent.objects.create(order_id=order_id, created_at=now, kind="rolled_forward",
                                      from_status=OrderStatus.SUBMITTING, to_status=OrderStatus.SUBMITTING,
                                      data={"planned_qty": str(child.qty), "qty": str(qty)})
    if qty <= 0:
        return Order.objects.get(pk=order_id)
    return order_send_claimed(order_id=order_id)


def slices_due(*, now: dt.datetime, limit: int = DISPATCH_BATCH) -> list[tuple[int, dt.datetime]]:
    """(id, scheduled_time) of slices due at ``now``, earliest first (the partial index serves it)."""
    return list(
        Order.objects.filter(status=OrderStatus.SCHEDULED, scheduled_time__lte=now, parent_order__isnull=False)
        .order_by("scheduled_time", "pk")
        .values_list("pk", "scheduled_time")[:limit]
    )


def slices_dispatch_due(*, now: dt.datetime | None = None, lookahead: float | None = None) -> dict:
    """Dispatch every due slice (one failure never stops the others), sweep, close finished parents.

    Slices due within the next ``lookahead`` seconds (``TWAP_LOOKAHEAD_SECONDS``, under the beat's
    one-second period) are picked too and sent when their time comes, so a slice goes out at its
    ``scheduled_time`` plus processing, not plus up to a whole beat period. The claim still requires
    ``scheduled_time <= now``: nothing is ever sent early.
    """

    now = now or clock.now()
    lookahead = conf.twap_lookahead_seconds if lookahead is None else lookahead
    sent = failed = 0
    for pk, when in slices_due(now=now + dt.timedelta(seconds=lookahead)):
        wait = (when - clock.now()).total_seconds()
        if wait > 0:
            time.sleep(min(wait, lookahead))
        try:
            slice_dispatch(order_id=pk)
            sent += 1
        except Exception:
            failed += 1
            logger.exception("TWAP: dispatch of slice %s failed", pk)
    swept = slices_sweep(now=clock.now())
    finished = parents_finalize(now=clock.now())
    return {"dispatched": sent, "errors": failed, "swept": swept, "finished": finished}


def slices_sweep(*, now: dt.datetime) -> int:
    """Recover slices stuck in ``submitting`` longer than the grace period (ask the broker; resend)."""

    cutoff = now - dt.timedelta(seconds=conf.twap_sweep_grace_seconds)
    stuck = list(
        Order.objects.filter(status=OrderStatus.SUBMITTING, parent_order__isnull=False, updated_at__lte=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:DISPATCH_BATCH]
    )
    for pk in stuck:
        try:
            order_resolve(order_id=pk)
        except Exception:
            logger.exception("TWAP sweep: resolving slice %s failed", pk)
    return len(stuck)


def _parent_deadline(parent: Order) -> dt.datetime:
    """Until when a parent may still send catch-up children: its session's close (children are day
    orders); the always-open simulation: the end of its New York day."""

    day = parent.created_at.astimezone(clock.NEW_YORK).date()
    close = None if market_clock.always_open() else market_clock.session_close(day)
    if close is not None:
        return close
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=clock.NEW_YORK)


def _failed_resend(*, parent: Order, now: dt.datetime, resend: list[int]) -> bool:
    """Under the parent's row lock: claim the first failed child that is due to be sent again under
    its own id (``failed`` → ``submitting``; the caller sends it after commit). True while a failed
    child is still to be resent (now or after its back-off)."""
    waiting = False
    failed = Order.objects.filter(parent_order_id=parent.pk, status=OrderStatus.FAILED).order_by("slice_num", "pk")
    for child in failed:
        tries = OrderEvent.objects.filter(order=child, kind="resent").count()
        if tries >= conf.twap_resend_max:
            continue  # given up: the parent finishes short of its quantity
        if now < child.updated_at + dt.timedelta(seconds=min(2 ** (tries + 1), 60)):
            waiting = True
            continue
        claimed = Order.objects.filter(pk=child.pk, status=OrderStatus.FAILED).update(
            status=OrderStatus.SUBMITTING, reject_code="", reject_detail="", updated_at=now
        )
        if claimed:
            OrderEvent.objects.create(
                order=child, created_at=now, kind="resent", from_status=OrderStatus.FAILED,
                to_status=OrderStatus.SUBMITTING,
                data={"why": f"failed ({child.reject_code}): sent again under its own client_order_id",
                      "try": tries + 1},
            )
            resend.append(child.pk)
            return True
    return waiting


def _catch_up(*, parent: Order, now: dt.datetime, resend: list[int]) -> bool:
    """Under the parent's row lock: resend a failed child under its own id, or give a parent with no
    scheduled child left a catch-up child for the quantity no child will fill any more. True when
    it did either (the parent keeps working)."""
    children = list(
        Order.objects.filter(parent_order_id=parent.pk).order_by("slice_num")
        .values_list("status", "qty", "filled_qty", "slice_num", "updated_at")
    )
    if now >= _parent_deadline(parent):
        return False
    if any(c[0] == OrderStatus.REJECTED for c in children):
        return False  # refused (kill switch, breaker, limits, the broker): the refusal stands
    if _failed_resend(parent=parent, now=now, resend=resend):
        return True
    committed = sum((filled if status in RELEASED_STATUSES else qty for status, qty, filled, _, _ in children),
                    Decimal(0))
    remaining = parent.qty - committed
    if remaining <= 0:
        return False
    finished = sorted((c for c in children if c[0] in TERMINAL_STATUSES), key=lambda c: c[4])
    k = sum(1 for c in children if c[3] >= parent.total_slices)
    if k >= CATCHUP_MAX:
        return False
    failed_before = bool(finished) and finished[-1][0] == OrderStatus.FAILED
    when = now + dt.timedelta(seconds=min(2 ** (k + 1), 60)) if failed_before else now
    child = Order.objects.create(
        client_order_id=f"{parent.client_order_id}-c{k}", symbol=parent.symbol, side=parent.side,
        order_type=parent.order_type, qty=remaining, limit_price=parent.limit_price,
        time_in_force=TimeInForce.DAY, status=OrderStatus.SCHEDULED, source=OrderSource.TWAP,
        strategy=parent.strategy, created_by_id=parent.created_by_id, reason=parent.reason, parent_order=parent,
        slice_num=parent.total_slices + k, total_slices=parent.total_slices, scheduled_time=when,
        created_at=now, updated_at=now,
    )
    OrderEvent.objects.create(order=parent, created_at=now, kind="catch_up", from_status=parent.status,
                              to_status=parent.status,
                              data={"child": child.client_order_id, "qty": str(remaining), "at": when.isoformat()})
    return True


def parents_finalize(*, now: dt.datetime) -> int:
    """Parents with no scheduled child left: a catch-up child for a remainder no child will fill
    (see the module docstring), else — every child final — their terminal status: filled or canceled.
    Returns how many parents finished."""
    book = book_active()
    if book is not None and not book.parents_open:
        return 0  # a replay day in memory: no TWAP parent there, none left open in its store (orders.book)
    scheduled = Order.objects.filter(parent_order_id=OuterRef("pk"), status=OrderStatus.SCHEDULED)
    candidates = list(
        Order.objects.filter(status=OrderStatus.SCHEDULED, parent_order__isnull=True, total_slices__isnull=False)
        .filter(~Exists(scheduled))
        .values_list("pk", flat=True)[:DISPATCH_BATCH]
    )
    finished = 0
    resend: list[int] = []
    for pk in candidates:
        with transaction.atomic():
            parent = Order.objects.select_for_update().get(pk=pk)
            if parent.status != OrderStatus.SCHEDULED or _catch_up(parent=parent, now=now, resend=resend):
                continue
            if Order.objects.filter(parent_order_id=pk).exclude(status__in=TERMINAL_STATUSES).exists():
                continue  # children still working (their remainder is counted as committed)
            finished += 1
            filled = Order.objects.filter(parent_order_id=pk).aggregate(q=Sum("filled_qty"))["q"] or Decimal(0)
            status = OrderStatus.FILLED if filled == parent.qty else OrderStatus.CANCELED
            OrderEvent.objects.create(order=parent, created_at=now, kind="twap_finished",
                                      from_status=parent.status, to_status=status, data={"filled_qty": str(filled)})
            Order.objects.filter(pk=pk).update(
                status=status, updated_at=now,
                **({"filled_at": now} if status == OrderStatus.FILLED else {"canceled_at": now}),
            )
    for pk in resend:  # claimed above; sent after commit, outside the parent's lock
        try:
            order_send_claimed(order_id=pk)
        except Exception:  # still ``submitting``: the sweep resolves it (and resends under the same id)
            logger.exception("TWAP: resend of failed child %s failed", pk)
    return finished


def twap_parent_cancel(*, parent_id: int, actor: Actor, reason: str) -> Order:
    """Cancel a parent: its unsent children locally, its open children at the broker."""
    return order_cancel(order=parent_id, actor=actor, reason=reason)

