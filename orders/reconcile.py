"""Reconciliation with the broker (the broker is the truth for fills) and stale-order cleanup.

:func:`reconcile_run` runs on Celery beat and at start-up:

1. deliver pending trade updates (simulated outbox) and advance the simulated exchange;
2. every open ledger order older than the grace period is looked up by ``client_order_id``; its
   status and cumulative fills are applied through the same trade-update path (missed fills are
   booked as catch-up fills — an alert says so); ``unknown``/``submitting`` orders the broker never
   saw (and older than the grace period, above the broker timeout) become ``failed``/``NOT_AT_BROKER``;
   an order the ledger thinks open but the broker does not have is alerted;
   failed ``NOT_AT_BROKER`` orders of the last ``ORDERS_NOT_AT_BROKER_LOOKBACK_DAYS`` (3) are looked
   up again: one the broker has after all is revived to its true state (an alert says so);
3. broker open orders the ledger does not know are alerted (never adopted blindly);
4. positions are compared symbol by symbol; a mismatch is alerted (not auto-corrected: that would
   invent fills);
5. an :class:`AccountSnapshot` is stored;
6. day orders open longer than ``ORDERS_STALE_MINUTES`` (15) are canceled.

Every broker call here is a read (or a cancel) in the deployment's shared broker-request budget.
When the budget refuses one, or the broker answers 429, the run stops the broker part it is in and
says so in ``report.deferred`` (the next run, a minute later, starts again); the snapshot and the
stale-order cleanup still run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db.models import Q

from orders.book import book_active
from orders.brokers import get_broker
from orders.brokers.base import BrokerError, RateLimited
from orders.conf import conf
from orders.fills import updates_pump
from orders.gateway import NOT_AT_BROKER, OrderNotCancelable, order_cancel, order_resolve
from orders.models import OPEN_STATUSES, AccountSnapshot, Order, OrderStatus, Position, TimeInForce
from orders.selectors import account_latest
from trading_site.alerts import alert_raise
from trading_site.lib import clock

logger = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    orders_checked: int = 0
    orders_repaired: int = 0
    fills_added: int = 0
    discrepancies: list[str] = field(default_factory=list)
    stale_canceled: int = 0
    snapshot_id: int | None = None
    deferred: str = ""  # why a part was cut short (request budget used up, or a 429)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _discrepancy(report: ReconcileReport, *, metric: str, message: str, data: dict) -> None:
    report.discrepancies.append(message)
    alert_raise(source="reconciliation", metric=metric, message=message, data=data)


def account_snapshot_record(*, broker=None) -> AccountSnapshot:
    broker = broker or get_broker()
    account = broker.get_account()
    book = book_active()
    if book is not None:  # the replay book's copy of the latest snapshot is out of date now
        book.account_read = False
    return AccountSnapshot.objects.create(
        time=clock.now(),
        cash=account.cash,
        equity=account.equity,
        buying_power=account.buying_power,
        long_market_value=account.long_market_value,
        short_market_value=account.short_market_value,
        broker=broker.name,
        pattern_day_trader=account.pattern_day_trader,
        daytrade_count=account.daytrade_count,
    )


def orders_reconcile(*, report: ReconcileReport, now: dt.datetime) -> None:
    broker = get_broker()
    grace = dt.timedelta(seconds=conf.unknown_grace_seconds)
    for order in Order.objects.filter(status__in=OPEN_STATUSES, updated_at__lte=now - grace).order_by("pk"):
        report.orders_checked += 1
        before = (order.status, order.filled_qty)
        fills_before = order.fills.count()
        try:
            after = order_resolve(order_id=order.pk)
        except RateLimited:
            raise
        except BrokerError as exc:
            logger.warning("reconcile: broker error for %s: %s", order.client_order_id, exc)
            continue
        added = after.fills.count() - fills_before
        if (after.status, after.filled_qty) != before:
            report.orders_repaired += 1
        if added:
            report.fills_added += added
            _discrepancy(
                report,
                metric="missed_fill",
                message=f"{order.client_order_id}: {added} fill(s) found at the broker and booked",
                data={"order_id": order.pk, "filled_qty": str(after.filled_qty)},
            )
        if after.status == OrderStatus.FAILED and before[0] != OrderStatus.FAILED:
            _discrepancy(
                report,
                metric="order_not_at_broker",
                message=f"{order.client_order_id} was {before[0]} but the broker never received it",
                data={"order_id": order.pk},
            )
    lookback = now - dt.timedelta(days=conf.not_at_broker_lookback_days)
    provisional = Order.objects.filter(status=OrderStatus.FAILED, reject_code=NOT_AT_BROKER, updated_at__gte=lookback)
    for pk, cid in provisional.order_by("pk").values_list("pk", "client_order_id"):
        try:
            after = order_resolve(order_id=pk)
        except RateLimited:
            raise
        except BrokerError as exc:
            logger.warning("reconcile: broker error for %s: %s", cid, exc)
            continue
        if after.status != OrderStatus.FAILED:
            report.orders_repaired += 1
            _discrepancy(
                report,
                metric="order_not_at_broker_revived",
                message=f"{cid} was judged not at the broker but the broker has it: now {after.status}",
                data={"order_id": pk, "status": after.status},
            )
    known = set(Order.objects.filter(status__in=OPEN_STATUSES).values_list("client_order_id", flat=True))
    for bo in broker.list_open_orders():
        if bo.client_order_id in known:
            continue
        ledger = Order.objects.filter(client_order_id=bo.client_order_id).first()
        if ledger is None:
            _discrepancy(
                report,
                metric="orphan_broker_order",
                message=f"broker has open order {bo.client_order_id} ({bo.side} {bo.qty} {bo.symbol}) unknown to the ledger",
                data={"client_order_id": bo.client_order_id, "broker_order_id": bo.broker_order_id},
            )
            continue
        # The ledger closed an order the broker still works (e.g. judged "not at broker" too early).
        after = order_resolve(order_id=ledger.pk)
        if after.status != ledger.status:
            report.orders_repaired += 1
        _discrepancy(
            report,
            metric="order_status_mismatch",
            message=f"{bo.client_order_id}: ledger {ledger.status}, broker {bo.status}; now {after.status}",
            data={"order_id": ledger.pk, "ledger": ledger.status, "broker": bo.status},
        )


def positions_reconcile(*, report: ReconcileReport) -> None:
    broker_positions = {p.symbol: p.qty for p in get_broker().list_positions()}
    ledger = {p.symbol: p.qty for p in Position.objects.exclude(qty=0)}
    for symbol in sorted(set(broker_positions) | set(ledger)):
        b, mine = broker_positions.get(symbol, 0), ledger.get(symbol, 0)
        if b != mine:
            _discrepancy(
                report,
                metric="position_mismatch",
                message=f"position {symbol}: ledger {mine}, broker {b}",
                data={"symbol": symbol, "ledger": str(mine), "broker": str(b)},
            )


def stale_orders_cancel(*, now: dt.datetime | None = None, max_age_minutes: int | None = None) -> int:
    now = now or clock.now()
    age = dt.timedelta(minutes=max_age_minutes or conf.stale_order_minutes)
    # A TWAP slice's row is created with its parent, long before it is sent: its age counts from
    # its submission.
    cutoff = now - age
    stale = Order.objects.filter(
        Q(parent_order__isnull=True, created_at__lte=cutoff) | Q(parent_order__isnull=False, submitted_at__lte=cutoff),
        status__in=(OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED),
        time_in_force=TimeInForce.DAY,
    ).order_by("pk")
    count = 0
    for pk in stale.values_list("pk", flat=True):
        try:
            result = order_cancel(order=pk, actor=None, reason=f"stale: open longer than {age}")
        except (OrderNotCancelable, BrokerError):
            continue
        # Canceled, or (a broker that confirms over its stream) cancel requested.
        count += result.status == OrderStatus.CANCELED or result.status in OPEN_STATUSES
    return count


def reconcile_run(*, snapshot: bool = True) -> ReconcileReport:
    now = clock.now()
    report = ReconcileReport()
    broker = get_broker()
    if hasattr(broker, "tick"):
        broker.tick()
    # Whatever the exchange's outbox still holds (simulated; Alpaca has none) is booked first.
    updates_pump(broker=broker)
    for part in (lambda: orders_reconcile(report=report, now=now), lambda: positions_reconcile(report=report)):
        try:
            part()
        except RateLimited as exc:
            report.deferred = f"{exc.code}: {exc.detail}"
            logger.warning("reconcile: cut short, %s; the next run continues", report.deferred)
            break
    if snapshot:
        try:
            report.snapshot_id = account_snapshot_record(broker=broker).pk
        except BrokerError as exc:
            logger.warning("reconcile: account snapshot failed: %s", exc)
    report.stale_canceled = stale_orders_cancel(now=now)
    return report


def demo_snapshot() -> str:
    """Demo step: one account snapshot so the dashboard has figures before the first reconciliation."""
    if account_latest() is not None:
        return "exists"
    snap = account_snapshot_record()
    return f"equity {snap.equity} ({snap.broker})"
