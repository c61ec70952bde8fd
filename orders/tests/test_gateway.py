"""The gateway: validation, idempotency (sequential and concurrent), pre-trade rejection, unknown outcomes."""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest
from django.db import connection

from orders import pretrade
from orders.brokers import use_broker
from orders.brokers.base import BrokerRejected, BrokerUnavailable, RateLimited
from orders.conf import resolve_grace_seconds
from orders.gateway import (
    OrderConflict,
    OrderInputError,
    client_order_id_for,
    order_cancel,
    order_cancel_all,
    order_place,
    order_resolve,
    positions_flatten_all,
)
from orders.models import Fill, Order, OrderEvent, Position, SimOrder
from orders.reconcile import reconcile_run
from orders.tests.conftest import CountingBroker, make_asset
from trading_site.models import ActionLog, Alert

pytestmark = pytest.mark.django_db


def _counts():
    return (Order.objects.count(), OrderEvent.objects.count(), SimOrder.objects.count(), Fill.objects.count())


def test_market_order_fills_through_the_simulated_exchange(aapl, counting_broker, frozen, operator, deliver):
    # when an operator buys 10 AAPL (bar 100/100/100/100, no volume → ADV 1,000,000)
    order = order_place(symbol="aapl", side="buy", qty="10", source="manual", actor=operator, reason="test").order
    assert (order.status, order.filled_qty) == ("accepted", D(0))  # the call returns at acceptance
    assert not Position.objects.exists()
    deliver()  # the execution arrives over the trade stream
    order.refresh_from_db()
    # then: impact = 10 bps × √(10/1e6) = 0.0316 bps; cost 2.0316 bps → 100.020316 → 100.03 (tick up)
    assert (order.status, order.filled_qty, order.avg_fill_price) == ("filled", D(10), D("100.030000"))
    assert order.broker_order_id and order.client_order_id.startswith("manual-")
    pos = Position.objects.get(symbol="AAPL")
    assert (pos.qty, pos.avg_cost) == (D(10), D("100.030000"))
    kinds = list(order.events.values_list("kind", flat=True))
    assert kinds[0] == "created" and "fill" in kinds
    assert ActionLog.objects.filter(action="order.submit", actor=operator).count() == 1
    assert counting_broker.submit_calls == 1


def test_same_client_order_id_twice_is_one_order_one_broker_call(aapl, counting_broker, frozen):
    first = order_place(symbol="AAPL", side="buy", qty="5", source="api", client_order_id="abc-1")
    again = order_place(symbol="AAPL", side="buy", qty="5", source="api", client_order_id="abc-1")
    assert first.created and not again.created
    assert again.order.pk == first.order.pk
    assert Order.objects.count() == 1 and counting_broker.submit_calls == 1 and SimOrder.objects.count() == 1


def test_same_client_order_id_with_different_order_conflicts(aapl, counting_broker, frozen):
    order_place(symbol="AAPL", side="buy", qty="5", source="api", client_order_id="abc-2")
    with pytest.raises(OrderConflict):
        order_place(symbol="AAPL", side="buy", qty="6", source="api", client_order_id="abc-2")
    assert Order.objects.count() == 1 and counting_broker.submit_calls == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_concurrent_same_client_order_id_is_one_order_one_broker_call(sim_broker):
    make_asset("AAPL", price="100")
    broker = CountingBroker(sim_broker, delay=0.2)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(order_place(symbol="AAPL", side="buy", qty="3", source="api", client_order_id="race-1"))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    with use_broker(broker):
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert errors == []
    assert sorted(r.created for r in results) == [False, True]
    assert {r.order.pk for r in results} == {Order.objects.get().pk}
    assert broker.submit_calls == 1 and SimOrder.objects.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"qty": "0"}, "qty"),
        ({"qty": "-5"}, "qty"),
        ({"qty": "NaN"}, "qty"),
        ({"qty": float("inf")}, "qty"),
        ({"qty": "1.5"}, "qty"),  # AAPL is not fractionable
        ({"symbol": "NOPE"}, "symbol"),
        ({"order_type": "limit"}, "limit_price"),
        ({"order_type": "limit", "limit_price": "10.001"}, "limit_price"),
        ({"order_type": "limit", "limit_price": "0.12345"}, "limit_price"),
        ({"order_type": "market", "limit_price": "10"}, "limit_price"),
        ({"side": "hold"}, "side"),
        ({"side": ["buy"]}, "side"),  # JSON that is not text: refused, not a server error
        ({"order_type": {"market": 1}}, "type"),
        ({"time_in_force": ["day"]}, "time_in_force"),
        ({"client_order_id": "x" * 129}, "client_order_id"),
        ({"client_order_id": "has space"}, "client_order_id"),
    ],
)
def test_bad_input_stores_nothing(aapl, counting_broker, kwargs, field):
    args = {"symbol": "AAPL", "side": "buy", "qty": "1", "source": "api", **kwargs}
    with pytest.raises(OrderInputError) as info:
        order_place(**args)
    assert field in info.value.fields
    assert _counts() == (0, 0, 0, 0) and counting_broker.submit_calls == 0


def test_limit_price_sub_penny_rules_accept_valid_prices(aapl, counting_broker, frozen):
    make_asset("PENNY", price="0.5")
    a = order_place(symbol="AAPL", side="buy", qty="1", order_type="limit", limit_price="99.99", source="api").order
    b = order_place(symbol="PENNY", side="buy", qty="1", order_type="limit", limit_price="0.4999", source="api").order
    assert (a.limit_price, b.limit_price) == (D("99.99"), D("0.4999"))


def test_fractional_only_when_fractionable(db, counting_broker, frozen, deliver):
    make_asset("FRAC", price="50", fractionable=True)
    order = order_place(symbol="FRAC", side="buy", qty="0.5", source="api").order
    deliver()
    order.refresh_from_db()
    assert (order.status, order.filled_qty) == ("filled", D("0.5"))


def test_untradable_symbol_refused(db, counting_broker):
    make_asset("HALT", tradable=False)
    with pytest.raises(Exception) as info:
        order_place(symbol="HALT", side="buy", qty="1", source="api")
    assert info.value.code == "ASSET_NOT_TRADABLE"
    assert _counts() == (0, 0, 0, 0)


def test_pretrade_rejection_is_stored_and_raised_without_broker_call(aapl, counting_broker, frozen):
    seen = []

    def kill_switch(intent):
        seen.append(intent)
        raise pretrade.PreTradeRejection("KILL_SWITCH_ENGAGED", "engaged")

    pretrade.register_check("kill_switch", kill_switch, order=10)
    with pytest.raises(pretrade.PreTradeRejection):
        order_place(symbol="AAPL", side="buy", qty="2", source="api", client_order_id="rej-1")
    order = Order.objects.get()
    assert (order.status, order.reject_code) == ("rejected", "KILL_SWITCH_ENGAGED")
    assert order.events.filter(kind="pretrade_rejected").count() == 1
    assert counting_broker.submit_calls == 0 and SimOrder.objects.count() == 0
    assert seen[0].reference_price == D("100.0000") and seen[0].client_order_id == "rej-1"
    # the same id again returns the stored rejection (idempotent), still no broker call
    again = order_place(symbol="AAPL", side="buy", qty="2", source="api", client_order_id="rej-1")
    assert (again.created, again.order.status, counting_broker.submit_calls) == (False, "rejected", 0)


def test_kill_switch_and_risk_sources_accepted(aapl, counting_broker, frozen, deliver):
    a = order_place(symbol="AAPL", side="buy", qty="1", source="kill_switch").order
    b = order_place(symbol="AAPL", side="sell", qty="1", source="risk").order
    deliver()
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == ("filled", "filled")


def test_timeout_after_send_leaves_unknown_then_resolver_completes(aapl, sim_broker, frozen):
    broker = CountingBroker(sim_broker, submit_error=BrokerUnavailable("read timeout"))
    with use_broker(broker):
        result = order_place(symbol="AAPL", side="buy", qty="4", source="api", client_order_id="t-1")
        assert result.order.status == "unknown"
        assert Fill.objects.count() == 0
        # when the resolver asks the broker by client_order_id
        frozen.shift(60)
        resolved = order_resolve(order_id=result.order.pk)
    # then it is found, completed, and nothing was sent twice
    assert (resolved.status, resolved.filled_qty) == ("filled", D(4))
    assert broker.submit_calls == 1 and SimOrder.objects.count() == 1
    assert Position.objects.get(symbol="AAPL").qty == D(4)
    assert resolved.events.filter(kind="submit_unknown").count() == 1


def test_timeout_before_send_resolves_to_failed_never_resubmitted(aapl, sim_broker, frozen):
    broker = CountingBroker(sim_broker, submit_error=BrokerUnavailable("connect timeout"), error_after_send=False)
    with use_broker(broker):
        order = order_place(symbol="AAPL", side="buy", qty="4", source="api").order
        # unknown is not failed: while the submission may still be in flight, nothing is decided
        assert order_resolve(order_id=order.pk).status == "unknown"
        frozen.shift(resolve_grace_seconds() - 1)
        assert order_resolve(order_id=order.pk).status == "unknown"
        frozen.shift(1)
        resolved = order_resolve(order_id=order.pk)
    assert (resolved.status, resolved.reject_code) == ("failed", "NOT_AT_BROKER")
    assert broker.submit_calls == 1 and SimOrder.objects.count() == 0


def test_crash_between_broker_call_and_local_commit_is_repaired_by_reconciliation(aapl, sim_broker, frozen):
    # given: the gateway committed the order as submitting and the broker accepted and filled it,
    # but the process died before recording the answer (simulated: call the broker directly)
    order = Order.objects.create(
        client_order_id="crash-1", symbol="AAPL", side="buy", qty=D(7), source="api", status="submitting",
        created_at=frozen_now(), updated_at=frozen_now(),
    )
    from orders.brokers.base import SubmitRequest

    sim_broker.submit_order(SubmitRequest("crash-1", "AAPL", "buy", D(7), "market", "day"))
    # when reconciliation runs after the grace period
    frozen.shift(120)
    report = reconcile_run()
    # then the order is complete, fills booked once, and the broker has exactly one order
    order.refresh_from_db()
    assert (order.status, order.filled_qty) == ("filled", D(7))
    assert SimOrder.objects.count() == 1 and Fill.objects.count() == 1
    assert Position.objects.get(symbol="AAPL").qty == D(7)
    assert report.discrepancies == []  # the broker's pending updates repaired it
    # a second reconciliation changes nothing
    reconcile_run()
    assert Fill.objects.count() == 1 and Position.objects.get(symbol="AAPL").qty == D(7)


def frozen_now():
    from trading_site.lib import clock

    return clock.now()


def test_broker_rejection_and_rate_limit(aapl, sim_broker, frozen):
    rejecting = CountingBroker(sim_broker, submit_error=BrokerRejected("no", code="SIMULATED_REJECT"), error_after_send=False)
    with use_broker(rejecting), pytest.raises(BrokerRejected):
        order_place(symbol="AAPL", side="buy", qty="1", source="api", client_order_id="r-1")
    limited = CountingBroker(sim_broker, submit_error=RateLimited("slow down"), error_after_send=False)
    with use_broker(limited), pytest.raises(RateLimited):
        order_place(symbol="AAPL", side="buy", qty="1", source="api", client_order_id="r-2")
    assert dict(Order.objects.values_list("client_order_id", "status")) == {"r-1": "rejected", "r-2": "failed"}
    assert Order.objects.get(client_order_id="r-1").reject_code == "SIMULATED_REJECT"


def test_cancel_resting_limit_order_and_cancel_all(aapl, counting_broker, frozen, operator, deliver):
    a = order_place(symbol="AAPL", side="buy", qty="1", order_type="limit", limit_price="90", source="api").order
    b = order_place(symbol="AAPL", side="buy", qty="1", order_type="limit", limit_price="91", source="api").order
    assert (a.status, b.status) == ("accepted", "accepted")
    requested = order_cancel(order=a, actor=operator, reason="changed my mind")
    assert requested.status == "accepted"  # canceled once the broker confirms, over the stream
    deliver()
    canceled = Order.objects.get(pk=a.pk)
    assert canceled.status == "canceled" and canceled.canceled_at is not None
    scheduled = Order.objects.create(
        client_order_id="slice-1", symbol="AAPL", side="buy", qty=D(1), source="twap", status="scheduled",
        created_at=frozen_now(), updated_at=frozen_now(),
    )
    assert order_cancel_all(actor=operator, reason="end of day", include_scheduled=False) == 1
    deliver()  # the broker confirms b's cancel
    scheduled.refresh_from_db()
    assert scheduled.status == "scheduled"
    assert order_cancel_all(actor=operator, reason="kill", include_scheduled=True) == 1
    scheduled.refresh_from_db()
    assert scheduled.status == "canceled"
    assert ActionLog.objects.filter(action="order.cancel").count() == 3


def test_flatten_all_closes_positions_once(aapl, counting_broker, frozen, admin_user, deliver):
    make_asset("MSFT", price="200")
    order_place(symbol="AAPL", side="buy", qty="10", source="api")
    order_place(symbol="MSFT", side="sell", qty="5", source="api")
    deliver()
    orders = positions_flatten_all(actor=admin_user, reason="kill switch")
    deliver()
    assert sorted((o.symbol, o.side, o.qty, o.source) for o in orders) == [
        ("AAPL", "sell", D(10), "kill_switch"), ("MSFT", "buy", D(5), "kill_switch")]
    assert set(Position.objects.values_list("qty", flat=True)) == {D(0)}
    assert positions_flatten_all(actor=admin_user, reason="again") == []


def test_client_order_id_for_is_deterministic():
    a = client_order_id_for(source="twap", key="parent-7|3")
    assert a == client_order_id_for(source="twap", key="parent-7|3") != client_order_id_for(source="twap", key="parent-7|4")
    assert len(a) <= 128


def test_order_events_are_append_only(aapl, counting_broker, frozen):
    from django.db import DatabaseError, transaction

    order = order_place(symbol="AAPL", side="buy", qty="1", source="api").order
    with pytest.raises(DatabaseError), transaction.atomic():
        OrderEvent.objects.filter(order=order).update(kind="tampered")
    with pytest.raises(DatabaseError), transaction.atomic():
        OrderEvent.objects.filter(order=order).delete()
    assert not OrderEvent.objects.filter(kind="tampered").exists()


def test_alert_when_reconciliation_books_missed_fill(aapl, sim_broker, frozen):
    order = Order.objects.create(
        client_order_id="crash-2", symbol="AAPL", side="buy", qty=D(2), source="api", status="submitting",
        created_at=frozen_now(), updated_at=frozen_now(),
    )
    from orders.brokers.base import SubmitRequest

    sim_broker.submit_order(SubmitRequest("crash-2", "AAPL", "buy", D(2), "market", "day"))
    from orders.models import SimTradeUpdate

    SimTradeUpdate.objects.update(delivered=True)  # the stream lost every update
    frozen.shift(120)
    report = reconcile_run()
    order.refresh_from_db()
    assert (order.status, order.filled_qty) == ("filled", D(2))
    assert report.fills_added == 1
    assert Alert.objects.filter(source="reconciliation", metric="missed_fill").count() == 1
    assert Fill.objects.get().execution_id.startswith("cum:")


def test_market_order_query_budget(aapl, sim_broker, frozen, django_assert_max_num_queries, deliver):
    # warm the simulated exchange's market-data cache and the price cache
    order_place(symbol="AAPL", side="buy", qty="1", source="signal")
    deliver()
    with django_assert_max_num_queries(20):
        order = order_place(symbol="AAPL", side="buy", qty="1", source="signal").order
    assert order.status == "accepted"
    deliver()
    order.refresh_from_db()
    assert order.status == "filled"


def test_late_arrival_after_not_at_broker_verdict_is_repaired(aapl, sim_broker, frozen):
    from orders.brokers.base import SubmitRequest

    # given an order judged "not at broker" while its submission was still in flight
    broker = CountingBroker(sim_broker, submit_error=BrokerUnavailable("timeout"), error_after_send=False)
    with use_broker(broker):
        order = order_place(symbol="AAPL", side="buy", qty="2", order_type="limit", limit_price="50", source="api").order
        frozen.shift(resolve_grace_seconds())
        failed = order_resolve(order_id=order.pk)
    assert (failed.status, failed.reject_code) == ("failed", "NOT_AT_BROKER")
    # when the slow submission lands at the broker afterwards
    sim_broker.submit_order(SubmitRequest(order.client_order_id, "AAPL", "buy", D(2), "limit", "day", D("50")))
    report = reconcile_run()
    # then reconciliation finds the live order, revives the ledger row and says so
    order.refresh_from_db()
    assert (order.status, order.reject_code, order.broker_order_id is not None) == ("accepted", "", True)
    assert Alert.objects.filter(metric="order_not_at_broker_revived").count() == 1
    assert Alert.objects.filter(metric="order_revived").count() == 1
    assert order.events.filter(kind="revived").count() == 1
    assert report.orders_repaired == 1


def test_a_late_fill_revives_a_not_at_broker_order_to_its_true_state(aapl, sim_broker, frozen, deliver):
    from orders.brokers.base import SubmitRequest

    broker = CountingBroker(sim_broker, submit_error=BrokerUnavailable("timeout"), error_after_send=False)
    with use_broker(broker):
        order = order_place(symbol="AAPL", side="buy", qty="3", source="api").order
        frozen.shift(resolve_grace_seconds())
        assert order_resolve(order_id=order.pk).status == "failed"
    # the slow submission lands and fills; its updates arrive over the stream
    sim_broker.submit_order(SubmitRequest(order.client_order_id, "AAPL", "buy", D(3), "market", "day"))
    deliver()
    order.refresh_from_db()
    assert (order.status, order.reject_code, order.filled_qty) == ("filled", "", D(3))
    assert list(order.events.filter(kind="revived").values_list("from_status", "to_status")) == [("failed", "submitted")]
    alert = Alert.objects.get(metric="order_revived")
    assert alert.data["order_id"] == order.pk
    assert Position.objects.get(symbol="AAPL").qty == D(3)


def test_reconciliation_looks_up_recent_not_at_broker_orders(aapl, sim_broker, frozen):
    from orders.brokers.base import SubmitRequest

    broker = CountingBroker(sim_broker, submit_error=BrokerUnavailable("timeout"), error_after_send=False)
    with use_broker(broker):
        order = order_place(symbol="AAPL", side="buy", qty="3", source="api").order
        frozen.shift(resolve_grace_seconds())
        order_resolve(order_id=order.pk)
    # it reached the broker and filled there; every stream update was lost
    sim_broker.submit_order(SubmitRequest(order.client_order_id, "AAPL", "buy", D(3), "market", "day"))
    from orders.models import SimTradeUpdate

    SimTradeUpdate.objects.update(delivered=True)
    frozen.shift(3600)
    reconcile_run()
    order.refresh_from_db()
    assert (order.status, order.filled_qty) == ("filled", D(3))
    assert Alert.objects.filter(metric="order_revived").count() == 1


def test_demo_step_records_one_snapshot(aapl, sim_broker, frozen):
    from orders.models import AccountSnapshot
    from orders.reconcile import demo_snapshot as _demo_snapshot

    assert _demo_snapshot().startswith("equity 100000")
    assert _demo_snapshot() == "exists"
    assert AccountSnapshot.objects.count() == 1
