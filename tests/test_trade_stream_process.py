"""The trade-stream process (``manage.py run_trade_stream``) books the simulated exchange's fills.

The running platform's mode (``SIM_FILL_DELIVERY=stream``): the order call returns at the exchange's
acceptance, and a separate OS process delivers the fill into orders, positions, tax lots and risk
state, and keeps its heartbeat for ``/healthz``.
"""

from __future__ import annotations

import sys
from decimal import Decimal as D

import pytest

from orders.brokers import use_broker
from orders.brokers.simulated import SimulatedBroker
from orders.gateway import order_place
from orders.models import Order, Position
from orders.tests.conftest import make_asset
from tests.processes import child_env, log_tail, running, wait_for
from trading_site.models import Heartbeat

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_trade_stream_process_books_simulated_fills(tmp_path, settings):
    import datetime as dt

    settings.SIM_MARKET_HOURS = "always"  # the risk app's market-hours check, in this process

    from trading_site.lib import clock

    make_asset("AAPL", price="100", session=clock.today_ny() - dt.timedelta(days=1))
    with use_broker(SimulatedBroker(market_hours="always", fill_delivery="stream")):
        orders = [order_place(symbol="AAPL", side="buy", qty="2", source="api", client_order_id=f"proc-{i}").order
                  for i in range(3)]
    assert {o.status for o in orders} == {"accepted"}
    assert not Position.objects.exists()

    env = child_env(SIM_FILL_DELIVERY="stream", SIM_MARKET_HOURS="always", BROKER="simulated")
    commands = {"trade_stream": [sys.executable, "manage.py", "run_trade_stream"]}
    with running(commands, env, tmp_path):
        try:
            wait_for(lambda: Order.objects.filter(client_order_id__startswith="proc-", status="filled").count() == 3,
                     timeout=60, what="fills booked by the trade stream")
            wait_for(lambda: Heartbeat.objects.filter(name="trade_stream").exists(), timeout=30, what="heartbeat")
        except AssertionError as exc:
            pytest.fail(f"{exc}\n{log_tail(tmp_path, 'trade_stream')}")
    assert Position.objects.get(symbol="AAPL").qty == D("6")
    from tax.models import TaxLot

    assert TaxLot.objects.filter(symbol="AAPL").count() == 3
