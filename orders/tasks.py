"""Celery tasks of the orders app: thin, ids only, idempotent (each calls one service)."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready

from orders.brokers import get_broker
from orders.conf import resolve_grace_seconds
from orders.fills import updates_pump
from orders.gateway import order_resolve
from orders.models import Order, OrderStatus
from orders.reconcile import reconcile_run
from orders.slicing import slices_dispatch_due
from trading_site.lib import clock, queues


@shared_task(name="orders.resolve_order", ignore_result=True, acks_late=True, time_limit=60, soft_time_limit=50)
def resolve_order(*, order_id: int) -> None:
    """Resolve an order whose outcome is unknown; while its answer may still be in flight (younger
    than the grace period) ask again when the grace period has passed, instead of waiting for the
    next reconciliation."""
    if not Order.objects.filter(pk=order_id).exists():
        return
    order = order_resolve(order_id=order_id)
    if order.status in (OrderStatus.UNKNOWN, OrderStatus.SUBMITTING):
        left = resolve_grace_seconds() - (clock.now() - order.updated_at).total_seconds()
        resolve_order.apply_async(kwargs={"order_id": order_id}, countdown=max(left, 0) + 1, queue=queues.ORDERS)


@shared_task(name="orders.reconcile", ignore_result=True, acks_late=True, time_limit=300, soft_time_limit=270)
def reconcile() -> dict:
    return reconcile_run().as_dict()


@shared_task(name="orders.sim_tick", ignore_result=True, time_limit=60, soft_time_limit=50)
def sim_tick() -> int:
    """Advance the simulated exchange (partial remainders, resting limits) and deliver its updates."""

    broker = get_broker()
    if not hasattr(broker, "tick"):
        return 0
    broker.tick()
    return updates_pump(broker=broker)


@shared_task(name="orders.twap_dispatch", ignore_result=True, time_limit=55, soft_time_limit=50)
def twap_dispatch() -> dict:
    """Beat, every second: send due TWAP slices (claim by compare-and-set), sweep stuck ones."""

    return slices_dispatch_due()


@worker_ready.connect
def _reconcile_at_startup(sender=None, **kwargs) -> None:
    """Start-up step: reconcile once when a worker comes up (after a crash or a deploy)."""
    reconcile.apply_async(queue=_orders_queue())


def _orders_queue() -> str:
    return queues.ORDERS
