"""The trade-stream process survives a 30-second database outage and books what arrived meanwhile.

The process (``manage.py run_trade_stream``, simulated exchange, streamed delivery) reaches
PostgreSQL through a TCP proxy this test takes down for 30 s: every connection is cut and new ones
are refused. The process stays up; its heartbeat goes stale, so ``/healthz``'s trade-stream check
turns unhealthy within its 15 s; fills that reached the exchange's outbox during the outage are
booked once the database is back — each exactly once.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from decimal import Decimal as D

import pytest
from django.db import connection

from orders.brokers import use_broker
from orders.brokers.simulated import SimulatedBroker
from orders.gateway import order_place
from orders.models import Fill, Order, Position
from orders.tests.conftest import make_asset
from tests import processes
from tests.processes import TcpProxy, child_env, log_tail, running, wait_for
from trading_site.health import heartbeat_check
from trading_site.lib import clock

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 30


def _submit(prefix: str, count: int) -> list[Order]:
    with use_broker(SimulatedBroker(market_hours="always", fill_delivery="stream")):
        return [order_place(symbol="AAPL", side="buy", qty="2", source="api", client_order_id=f"{prefix}-{i}").order
                for i in range(count)]


def _filled(prefix: str, count: int) -> bool:
    return Order.objects.filter(client_order_id__startswith=f"{prefix}-", status="filled").count() == count


@pytest.mark.slow(seconds=40)  # the xdist scheduler starts the longest first
def test_trade_stream_survives_a_database_outage_and_books_its_fills_once(tmp_path, settings):
    settings.SIM_MARKET_HOURS = "always"
    make_asset("AAPL", price="100", session=clock.today_ny() - dt.timedelta(days=1))
    db = connection.settings_dict
    proxy = TcpProxy((db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432)))
    url = processes.test_database_url().replace(f":{db.get('PORT') or 5432}/", f":{proxy.port}/")
    env = child_env(SIM_FILL_DELIVERY="stream", SIM_MARKET_HOURS="always", BROKER="simulated", DATABASE_URL=url)
    commands = {"trade_stream": [sys.executable, "manage.py", "run_trade_stream"]}
    try:
        with running(commands, env, tmp_path) as procs:
            try:
                _submit("before", 2)
                wait_for(lambda: _filled("before", 2), timeout=60, what="fills before the outage")
                wait_for(lambda: heartbeat_check("trade_stream")["ok"], timeout=30, what="a fresh heartbeat")

                proxy.down()
                outage_started = time.monotonic()
                during = _submit("during", 3)
                assert {o.status for o in during} == {"accepted"}
                wait_for(lambda: not heartbeat_check("trade_stream")["ok"], timeout=15 + 10,
                         what="/healthz's trade-stream check unhealthy")
                unhealthy_after = time.monotonic() - outage_started
                while time.monotonic() - outage_started < OUTAGE_SECONDS:
                    assert procs["trade_stream"].poll() is None, "the trade stream exited during the outage"
                    assert not heartbeat_check("trade_stream")["ok"]
                    time.sleep(1)
                assert Order.objects.filter(client_order_id__startswith="during-", status="accepted").count() == 3

                proxy.up()
                wait_for(lambda: _filled("during", 3), timeout=60, what="fills booked after the outage")
                wait_for(lambda: heartbeat_check("trade_stream")["ok"], timeout=30, what="healthy again")
                time.sleep(2)  # a second booking, if any, would land now
            except AssertionError as exc:
                pytest.fail(f"{exc}\n{log_tail(tmp_path, 'trade_stream', 80)}")
            assert procs["trade_stream"].poll() is None
    finally:
        proxy.close()
    assert unhealthy_after <= 15 + 5  # stale within HEARTBEAT_MAX_AGE of the last heartbeat (every 5 s)
    for order in Order.objects.filter(client_order_id__startswith="during-"):
        assert list(Fill.objects.filter(order=order).values_list("qty", flat=True)) == [D(2)]
    assert Position.objects.get(symbol="AAPL").qty == D(10)
    from tax.models import TaxLot

    assert TaxLot.objects.filter(symbol="AAPL").count() == 5
    log = (tmp_path / "trade_stream.log").read_text()
    assert "simulated trade stream: OperationalError; retrying with back-off" in log
    assert log.count("retrying with back-off") == 1  # one line per outage, not one per try
    assert "simulated trade stream: working again after" in log
