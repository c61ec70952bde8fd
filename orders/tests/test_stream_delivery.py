"""Streamed delivery of the simulated exchange's fills (SIM_FILL_DELIVERY=stream, the running platform).

The order call returns at the exchange's acceptance; the fill waits in the exchange's outbox until
the trade-stream process (or the beat's sim tick) delivers it through the same trade-update path as
Alpaca's websocket. Worked example: AAPL path price 100 (flat bar), 2 bps slippage, 10 bps × √(qty/ADV)
impact with ADV 1,000,000: 10 shares → cost 2 + 10 × √0.00001 = 2.0316 bps → 100 × 1.00020316 =
100.020316, rounded up to the cent: 100.03.
"""

from __future__ import annotations

import json
import threading
from decimal import Decimal as D

import pytest
from django.core.management import call_command

from orders import events
from orders.api import serializers as s
from orders.brokers import trade_stream_expected, use_broker
from orders.brokers.simulated import SimulatedBroker
from orders.fills import updates_pump
from orders.gateway import order_cancel, order_place
from orders.models import Fill, Order, OrderEvent, Position, SimTradeUpdate
from orders.stream import OutboxStreamRunner
from trading_site.models import Heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def stream_broker():
    broker = SimulatedBroker(market_hours="always", fill_delivery="stream")
    with use_broker(broker):
        yield broker


def _kinds(order: Order) -> list[str]:
    return list(OrderEvent.objects.filter(order=order).order_by("pk").values_list("kind", flat=True))


def test_order_returns_accepted_and_the_stream_books_the_fill(aapl, stream_broker, frozen, operator, api_as):
    response = api_as(operator).post("/api/v1/orders/", data=json.dumps(
        {"symbol": "AAPL", "side": "buy", "qty": "10", "client_order_id": "stream-1"}), content_type="application/json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["filled_qty"]) == ("accepted", "0.000000000")
    assert body["broker_order_id"]
    order = Order.objects.get(client_order_id="stream-1")
    assert not Fill.objects.exists() and not Position.objects.exists()
    assert SimTradeUpdate.objects.filter(delivered=False).count() == 1  # executed at the exchange, not yet booked

    runner = OutboxStreamRunner(stream_broker)
    assert runner.process() == 1
    order.refresh_from_db()
    assert (order.status, order.filled_qty, order.avg_fill_price) == ("filled", D("10"), D("100.03"))
    assert Position.objects.get(symbol="AAPL").qty == D("10")
    assert Position.objects.get(symbol="AAPL").avg_cost == D("100.03")
    assert _kinds(order) == ["created", "accepted", "fill"]
    assert runner.process() == 0  # delivered once
    assert Fill.objects.count() == 1


def test_gateway_acknowledgement_never_moves_an_order_back(aapl, frozen):
    """The stream can book the fill before the submitting call records the acknowledgement."""

    class FastStream(SimulatedBroker):
        def submit_order(self, request):
            result = super().submit_order(request)
            updates_pump(broker=self)  # the trade-stream process got there first
            return result

    with use_broker(FastStream(market_hours="always", fill_delivery="stream")):
        order = order_place(symbol="AAPL", side="buy", qty="5", source="api", client_order_id="race-1").order
    assert order.status == "filled"
    order.refresh_from_db()
    assert (order.status, order.filled_qty) == ("filled", D("5"))
    assert order.broker_order_id
    assert _kinds(order) == ["created", "fill"]  # the late acknowledgement records nothing


@pytest.mark.postgres
def test_acknowledgement_is_one_compare_and_set(aapl, stream_broker, frozen, django_assert_num_queries):
    # Idempotency look-up, asset, [order, created event], [exchange order, execution], and the
    # acknowledgement: compare-and-set with its event in one statement (brackets: one transaction,
    # 2 savepoint statements each inside the test's own transaction).
    order_place(symbol="AAPL", side="buy", qty="1", source="signal", client_order_id="warm")  # caches warm
    with django_assert_num_queries(11):
        order = order_place(symbol="AAPL", side="buy", qty="1", source="signal", client_order_id="q-1").order
    assert order.status == "accepted"
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.broker_order_id, stored.submitted_at) == ("accepted", order.broker_order_id,
                                                                             order.submitted_at)
    assert s.OrderSerializer(order).data == s.OrderSerializer(stored).data
    ack = OrderEvent.objects.get(order=order, kind="accepted")
    assert (ack.from_status, ack.to_status, ack.data, ack.actor_id) == ("submitting", "accepted", {"origin": "submit"}, None)
    assert ack.created_at == stored.updated_at


def test_a_failing_fill_listener_holds_back_only_its_order(aapl, stream_broker, frozen):
    from orders.tests.conftest import make_asset

    make_asset("MSFT", price="50")
    order_place(symbol="AAPL", side="buy", qty="1", source="api", client_order_id="bad-1")
    order_place(symbol="MSFT", side="buy", qty="1", source="api", client_order_id="good-1")

    def listener(event):
        if event.symbol == "AAPL":
            raise RuntimeError("tax ledger down")

    events.register_fill_listener("flaky", listener)
    runner = OutboxStreamRunner(stream_broker)
    assert runner.process() == 1
    assert Order.objects.get(client_order_id="good-1").status == "filled"
    bad = Order.objects.get(client_order_id="bad-1")
    assert bad.status == "accepted" and not bad.fills.exists()  # rolled back, still waiting

    events.unregister_fill_listener("flaky")
    assert runner.process() == 1
    assert Order.objects.get(client_order_id="bad-1").status == "filled"


def test_cancel_after_the_fill_executed_books_the_fill_not_a_cancel(aapl, stream_broker, frozen):
    order = order_place(symbol="AAPL", side="buy", qty="2", source="api", client_order_id="c-1").order
    result = order_cancel(order=order, actor=None, reason="too late")
    assert result.status == "accepted"  # the exchange had filled it: nothing to cancel, fill on its way
    OutboxStreamRunner(stream_broker).process()
    order.refresh_from_db()
    assert (order.status, order.filled_qty) == ("filled", D("2"))


def test_the_sim_tick_and_reconciliation_deliver_too(aapl, stream_broker, frozen):
    from orders.reconcile import reconcile_run

    order_place(symbol="AAPL", side="buy", qty="3", source="api", client_order_id="r-1")
    report = reconcile_run(snapshot=False)
    assert report.discrepancies == []
    assert Order.objects.get(client_order_id="r-1").status == "filled"


@pytest.mark.django_db(transaction=True)  # the runner recycles its connection like the real process
@pytest.mark.postgres
def test_runner_writes_the_heartbeat_and_stops_on_request(aapl, stream_broker, frozen):
    order_place(symbol="AAPL", side="buy", qty="1", source="api", client_order_id="hb-1")
    stop = threading.Event()
    runner = OutboxStreamRunner(stream_broker, poll_seconds=0.01)
    original = runner.process

    def process_once():
        count = original()
        stop.set()
        return count

    runner.process = process_once
    runner.run_forever(stop)
    beat = Heartbeat.objects.get(name="trade_stream")
    assert beat.detail == {"applied": 1, "broker": "simulated"}
    assert Order.objects.get(client_order_id="hb-1").status == "filled"


def test_trade_stream_is_expected_and_checked_by_healthz_when_it_delivers(settings, frozen, client):
    from ops.wiring import health_checks
    from trading_site import health

    def trade_stream_check_register() -> bool:
        """What ops.wiring does at start-up for the trade stream's check."""
        checks = dict(health_checks())
        if "trade_stream" in checks:
            health.register_check("trade_stream", checks["trade_stream"])
        return "trade_stream" in checks
    from trading_site.health import heartbeat_record

    saved = dict(health._extra_checks)
    # The suite's settings (stream delivery) registered the check at start-up; start without it.
    health._extra_checks.pop("trade_stream", None)
    try:
        settings.BROKER, settings.SIM_FILL_DELIVERY = "simulated", "inline"
        assert not trade_stream_expected()
        assert trade_stream_check_register() is False
        assert "trade_stream" not in client.get("/healthz").json()["checks"]
        settings.BROKER, settings.SIM_FILL_DELIVERY = "alpaca", "inline"
        assert trade_stream_expected()
        settings.BROKER, settings.SIM_FILL_DELIVERY = "simulated", "stream"
        assert trade_stream_expected()
        assert trade_stream_check_register() is True
        assert client.get("/healthz").json()["checks"]["trade_stream"] == {"ok": False, "error": "never seen"}
        heartbeat_record(name="trade_stream", detail={"applied": 0})
        assert client.get("/healthz").json()["checks"]["trade_stream"]["ok"] is True
    finally:
        health._extra_checks.clear()
        health._extra_checks.update(saved)


def test_run_trade_stream_command_delivers_the_simulated_outbox(aapl, frozen, settings, monkeypatch):
    settings.BROKER, settings.SIM_FILL_DELIVERY = "simulated", "stream"
    broker = SimulatedBroker(market_hours="always")
    assert broker.synchronous_updates is False
    with use_broker(broker):
        order_place(symbol="AAPL", side="buy", qty="4", source="api", client_order_id="cmd-1")

        def run_once(self, stop):
            self.process()

        monkeypatch.setattr(OutboxStreamRunner, "run_forever", run_once)
        call_command("run_trade_stream")
    assert Order.objects.get(client_order_id="cmd-1").status == "filled"


def test_replay_and_inline_mode_book_fills_inside_the_call(aapl, sim_broker, frozen):
    from workflow.replay import replay_broker

    assert sim_broker.synchronous_updates is False  # the suite's default is production's (stream)
    assert replay_broker(capital=D("1000"), bars={}).synchronous_updates is True
    assert SimulatedBroker(fill_delivery="stream").synchronous_updates is False
    with pytest.raises(ValueError):
        SimulatedBroker(fill_delivery="later")
    # Inline on purpose: this test is about the inline mode replay uses.
    with use_broker(SimulatedBroker(market_hours="always", fill_delivery="inline")) as inline:
        assert inline.synchronous_updates is True
        order = order_place(symbol="AAPL", side="buy", qty="1", source="api", client_order_id="inline-1").order
    assert order.status == "filled"


def test_runner_backs_off_while_only_held_back_updates_are_pending(aapl, stream_broker, frozen):
    order_place(symbol="AAPL", side="buy", qty="1", source="api", client_order_id="poison-1")

    def listener(event):
        raise RuntimeError("tax ledger down")

    events.register_fill_listener("broken", listener)
    runner = OutboxStreamRunner(stream_broker, poll_seconds=0.1, heartbeat_seconds=1.0)
    waits = []
    for _ in range(6):
        waits.append(runner.wait_seconds(runner.process()))
    assert runner.held_back == ["poison-1"]
    assert waits == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]  # retried and logged ever less often, capped
    events.unregister_fill_listener("broken")
    assert runner.wait_seconds(runner.process()) == 0.0  # delivered: straight on to the next pass
    assert runner.wait_seconds(runner.process()) == 0.1  # idle: the normal poll again
    assert Order.objects.get(client_order_id="poison-1").status == "filled"
