"""Real OS processes: the order-rate limit across two processes through the gateway, and the kill
switch holding after a Celery worker restart (state from the database, cache lost)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest
from django.core.cache import cache

from marketdata.models import Bar
from orders.models import Order, Position
from risk import services
from risk.models import RiskEvent
from tests.delivery import stream_deliver
from tests.processes import ROOT, celery_command, child_env, log_tail, running, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]  # both tests start platform processes

_PLACER = """
import json, django
django.setup()
from orders import pretrade
from orders.gateway import order_place
for name in pretrade.registered_checks():
    if not name.startswith("risk."):
        pretrade.unregister_check(name)
codes = []
for i in range(35):
    try:
        order_place(symbol="AAPL", side="buy", qty="1", source="api")
        codes.append("ok")
    except pretrade.PreTradeRejection as exc:
        codes.append(exc.code)
print(json.dumps(codes))
"""


def test_sixty_first_order_in_a_minute_refused_across_two_processes(redis_db_env):
    from risk.tests.conftest import asset

    asset("AAPL", "100")
    env = child_env(SIM_MARKET_HOURS="always", **redis_db_env)
    # given two processes each placing 35 one-share orders through the gateway in the same minute
    procs = [subprocess.Popen([sys.executable, "-c", _PLACER], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    codes = [c for out, err in outputs for c in json.loads(out.strip().splitlines()[-1] if out.strip() else err)]
    # then exactly 60 were accepted and 10 refused with ORDER_RATE, and the broker saw only 60
    assert codes.count("ok") == 60 and codes.count("ORDER_RATE") == 10
    assert Order.objects.filter(status="rejected", reject_code="ORDER_RATE").count() == 10
    assert Order.objects.exclude(status="rejected").count() == 60
    stream_deliver()  # the fills arrive over the trade stream (production's delivery)
    assert Position.objects.get(symbol="AAPL").qty == Decimal(60)


@pytest.mark.worker
def test_kill_switch_holds_after_worker_restart(tmp_path, operator, settings, redis_db_env):
    from orders.brokers import use_broker
    from orders.brokers.simulated import SimulatedBroker
    from orders.gateway import order_place
    from risk.tests.conftest import asset

    settings.SIM_MARKET_HOURS = "always"
    a = asset("AAPL", "100")
    with use_broker(SimulatedBroker(market_hours="always")):
        order_place(symbol="AAPL", side="buy", qty="10", source="api")
        stream_deliver()
    env = child_env(SIM_MARKET_HOURS="always", **redis_db_env)
    worker = celery_command("worker", "-Q", "risk", "-P", "solo", "--without-gossip", "--without-mingle",
                            "--without-heartbeat", "-l", "info")

    # given a worker running while the kill switch is engaged (no flatten, so the position stays)
    with running({"worker1": worker}, env, tmp_path) as procs:
        wait_for(lambda: "ready" in log_tail(tmp_path, "worker1", 200), timeout=60, what="worker1 ready")
        services.kill_switch_engage(actor=operator, reason="restart drill", flatten=False)
        assert procs["worker1"].poll() is None
    # when the worker is stopped, the cache is lost, and a new worker starts
    cache.clear()
    Bar.objects.filter(asset=a).update(open=Decimal("90"), high=Decimal("90"), low=Decimal("90"), close=Decimal("90"))
    with running({"worker2": worker}, env, tmp_path):
        wait_for(lambda: "ready" in log_tail(tmp_path, "worker2", 200), timeout=60, what="worker2 ready")
        from trading_site.celery import app

        app.send_task("risk.dynamic_exits", queue="risk")
        # then the stop-loss exit the new worker tries is refused by the still-engaged switch
        event = wait_for(lambda: RiskEvent.objects.filter(kind="exit_failed", subject="AAPL").first(), timeout=60,
                         what="the refused exit\n" + log_tail(tmp_path, "worker2"))
    assert event.data["code"] == "KILL_SWITCH_ENGAGED"
    exit_order = Order.objects.get(source="risk")
    assert (exit_order.status, exit_order.reject_code) == ("rejected", "KILL_SWITCH_ENGAGED")
    assert Position.objects.get(symbol="AAPL").qty == Decimal(10)
