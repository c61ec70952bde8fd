"""Trade updates → fills and positions: duplicates, out-of-order delivery, partial fills."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from orders import events
from orders.brokers.base import BrokerOrder, TradeUpdate
from orders.fills import trade_update_apply
from orders.models import Fill, Order, OrderEvent, OrderStatus, Position

pytestmark = pytest.mark.django_db
TS = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)


def _order(cid="c-1", qty="100", side="buy", symbol="AAPL") -> Order:
    return Order.objects.create(
        client_order_id=cid, broker_order_id=f"b-{cid}", symbol=symbol, side=side, qty=D(qty), source="api",
        status=OrderStatus.ACCEPTED, created_at=TS, updated_at=TS,
    )


def _update(order: Order, event: str, *, exec_id: str | None, qty: str | None, price: str | None, cum: str,
            avg: str | None, status: str, commission: str = "0") -> TradeUpdate:
    return TradeUpdate(
        event=event,
        order=BrokerOrder(
            broker_order_id=order.broker_order_id, client_order_id=order.client_order_id, symbol=order.symbol,
            side=order.side, qty=order.qty, status=status, filled_qty=D(cum), filled_avg_price=D(avg) if avg else None,
        ),
        timestamp=TS,
        execution_id=exec_id,
        qty=D(qty) if qty else None,
        price=D(price) if price else None,
        commission=D(commission),
    )


@pytest.fixture
def notified():
    seen = []
    events.register_fill_listener("test", seen.append)
    return seen


def test_partial_then_full_fill_gives_exact_position(notified):
    # given an accepted order for 100 shares
    order = _order()
    # when 40 fill @ 10.00 and then 60 @ 10.50
    trade_update_apply(update=_update(order, "partial_fill", exec_id="e1", qty="40", price="10.00", cum="40",
                                      avg="10.00", status="partially_filled"))
    order.refresh_from_db()
    assert (order.status, order.filled_qty, order.avg_fill_price) == ("partially_filled", D(40), D("10.000000"))
    trade_update_apply(update=_update(order, "fill", exec_id="e2", qty="60", price="10.50", cum="100",
                                      avg="10.30", status="filled"))
    # then avg = (40*10 + 60*10.5) / 100 = 1030 / 100 = 10.30
    order.refresh_from_db()
    pos = Position.objects.get(symbol="AAPL")
    assert (order.status, order.filled_qty, order.avg_fill_price) == ("filled", D(100), D("10.300000"))
    assert (pos.qty, pos.avg_cost, pos.realized_pnl) == (D(100), D("10.300000"), D(0))
    assert [(f.execution_id, f.qty, f.price) for f in order.fills.all()] == [("e1", D(40), D("10.00")), ("e2", D(60), D("10.50"))]
    assert [e.execution_id for e in notified] == ["e1", "e2"]


def test_duplicate_updates_change_nothing(notified):
    order = _order()
    updates = [
        _update(order, "partial_fill", exec_id="e1", qty="40", price="10.00", cum="40", avg="10.00", status="partially_filled"),
        _update(order, "fill", exec_id="e2", qty="60", price="10.50", cum="100", avg="10.30", status="filled"),
    ]
    for u in updates:
        trade_update_apply(update=u)
    snapshot = (Fill.objects.count(), OrderEvent.objects.count(), Position.objects.get().qty)
    # when every update is delivered again
    for u in updates:
        assert trade_update_apply(update=u) == []
    # then nothing changed and listeners were not called again
    assert (Fill.objects.count(), Position.objects.get().qty) == snapshot[0::2]
    assert len(notified) == 2
    order.refresh_from_db()
    assert (order.filled_qty, order.avg_fill_price, order.status) == (D(100), D("10.300000"), "filled")


def test_out_of_order_fill_then_late_partial(notified):
    order = _order()
    # when the final fill (cum 100, avg 10.30) arrives before the partial
    trade_update_apply(update=_update(order, "fill", exec_id="e2", qty="60", price="10.50", cum="100", avg="10.30", status="filled"))
    # then the ledger catches up to the broker's cumulative: 100 @ 10.30
    order.refresh_from_db()
    assert (order.status, order.filled_qty, order.avg_fill_price) == ("filled", D(100), D("10.300000"))
    # when the late partial (cum 40) arrives
    assert trade_update_apply(update=_update(order, "partial_fill", exec_id="e1", qty="40", price="10.00", cum="40",
                                             avg="10.00", status="partially_filled")) == []
    # then it changes nothing
    pos = Position.objects.get(symbol="AAPL")
    assert (pos.qty, pos.avg_cost) == (D(100), D("10.300000"))
    assert Fill.objects.count() == 1 and len(notified) == 1
    assert OrderEvent.objects.filter(order=order, kind="stale_fill_ignored").count() == 1


def test_late_accepted_does_not_regress_status():
    order = _order()
    trade_update_apply(update=_update(order, "fill", exec_id="e1", qty="100", price="10", cum="100", avg="10", status="filled"))
    trade_update_apply(update=_update(order, "accepted", exec_id=None, qty=None, price=None, cum="0", avg=None, status="accepted"))
    order.refresh_from_db()
    assert order.status == "filled"


def test_sell_partial_close_and_flip_across_orders():
    # given a long of 100 @ 10.30 from one order
    buy = _order("b1")
    trade_update_apply(update=_update(buy, "fill", exec_id="x1", qty="100", price="10.30", cum="100", avg="10.30", status="filled"))
    # when selling 150 @ 11 in two executions: 50, then 100
    sell = _order("s1", qty="150", side="sell")
    trade_update_apply(update=_update(sell, "partial_fill", exec_id="x2", qty="50", price="11", cum="50", avg="11", status="partially_filled"))
    pos = Position.objects.get()
    # then 50 * (11 - 10.30) = 35 realized, 50 left @ 10.30
    assert (pos.qty, pos.avg_cost, pos.realized_pnl) == (D(50), D("10.300000"), D("35.000000"))
    trade_update_apply(update=_update(sell, "fill", exec_id="x3", qty="100", price="11", cum="150", avg="11", status="filled", commission="0.50"))
    pos.refresh_from_db()
    # 35 + 50 * 0.70 - 0.50 = 69.50; short 50 @ 11
    assert (pos.qty, pos.avg_cost, pos.realized_pnl) == (D(-50), D("11.000000"), D("69.500000"))


def test_canceled_after_partial_keeps_fills():
    order = _order()
    trade_update_apply(update=_update(order, "partial_fill", exec_id="e1", qty="40", price="10", cum="40", avg="10", status="partially_filled"))
    trade_update_apply(update=_update(order, "canceled", exec_id=None, qty=None, price=None, cum="40", avg="10", status="canceled"))
    order.refresh_from_db()
    assert (order.status, order.filled_qty) == ("canceled", D(40))
    assert order.canceled_at == TS


def test_update_for_unknown_order_is_ignored():
    ghost = Order(client_order_id="ghost", broker_order_id="b-ghost", symbol="AAPL", side="buy", qty=D(1))
    assert trade_update_apply(update=_update(ghost, "fill", exec_id="g1", qty="1", price="1", cum="1", avg="1", status="filled")) == []
    assert Fill.objects.count() == 0


def test_listener_failure_rolls_back_the_fill():
    order = _order()

    def boom(event):
        raise RuntimeError("tax down")

    events.register_fill_listener("boom", boom)
    with pytest.raises(RuntimeError):
        trade_update_apply(update=_update(order, "fill", exec_id="e1", qty="100", price="10", cum="100", avg="10", status="filled"))
    order.refresh_from_db()
    assert (Fill.objects.count(), Position.objects.count(), order.filled_qty) == (0, 0, D(0))
