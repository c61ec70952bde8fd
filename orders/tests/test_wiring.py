"""Orders' wiring into the platform: beat entries, health check, tasks, commands, admin."""

from __future__ import annotations

import json
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from orders import tasks
from orders.gateway import order_place
from orders.models import AccountSnapshot, Order
from trading_site import beat, health

pytestmark = pytest.mark.django_db


def test_beat_entries_and_health_check_registered(sim_broker):
    assert beat.BEAT_SCHEDULE["orders-reconcile"]["task"] == "orders.reconcile"
    assert beat.BEAT_SCHEDULE["orders-reconcile"]["options"]["queue"] == "orders"
    assert beat.BEAT_SCHEDULE["orders-sim-tick"]["task"] == "orders.sim_tick"
    assert health.check_trading_broker() == {"ok": True, "name": "simulated", "market_hours": "always"}


def test_tasks_are_thin_and_idempotent(aapl, sim_broker, frozen):
    order = order_place(symbol="AAPL", side="buy", qty="1", order_type="limit", limit_price="50", source="api").order
    tasks.resolve_order(order_id=order.pk)
    tasks.resolve_order(order_id=order.pk)
    tasks.resolve_order(order_id=999999)  # gone: nothing happens
    order.refresh_from_db()
    assert order.status == "accepted"
    report = tasks.reconcile()
    assert report["snapshot_id"] == AccountSnapshot.objects.get().pk
    assert tasks.sim_tick() == 0


def test_reconcile_command_prints_report(aapl, sim_broker, frozen):
    out = StringIO()
    call_command("reconcile", stdout=out)
    assert json.loads(out.getvalue())["discrepancies"] == []


def test_run_trade_stream_refuses_the_inline_simulated_exchange(sim_broker, settings):
    settings.SIM_FILL_DELIVERY = "inline"
    with pytest.raises(CommandError, match="SIM_FILL_DELIVERY=stream"):
        call_command("run_trade_stream")


def test_admin_pages_are_read_only_and_cancel_goes_through_gateway(aapl, sim_broker, frozen, client, django_user_model,
                                                                   deliver):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "correct-horse-battery")
    client.force_login(admin)
    order = order_place(symbol="AAPL", side="buy", qty="1", order_type="limit", limit_price="50", source="api").order
    order_place(symbol="AAPL", side="buy", qty="1", source="api")
    deliver()
    for url in ("/admin/orders/order/", f"/admin/orders/order/{order.pk}/change/", "/admin/orders/fill/",
                "/admin/orders/position/", "/admin/orders/accountsnapshot/"):
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/orders/order/add/").status_code == 403
    # the fill and event inlines show the ledger rows and offer no field to edit
    filled = Order.objects.get(order_type="market")
    page = client.get(f"/admin/orders/order/{filled.pk}/change/").content.decode()
    assert filled.fills.get().execution_id in page
    assert 'name="fills-0-qty"' not in page and 'name="events-0-kind"' not in page
    assert 'name="fills-TOTAL_FORMS"' in page and 'name="events-TOTAL_FORMS"' in page
    resp = client.post(f"/admin/orders/order/{order.pk}/change/", {"qty": "999"})
    order.refresh_from_db()
    assert order.qty == D(1)
    resp = client.post("/admin/orders/order/", {"action": "cancel_selected", "_selected_action": [order.pk]})
    assert resp.status_code == 302
    deliver()  # the broker's cancel confirmation
    order.refresh_from_db()
    assert order.status == "canceled"
    assert Order.objects.filter(status="filled").count() == 1
