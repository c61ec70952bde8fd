"""With the kill switch engaged, every order path is refused at the gateway with no broker call."""

from decimal import Decimal

import pytest
from django.core.cache import cache

from orders.models import Order
from risk import services
from risk.state import CACHE_KEY

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("only_risk_checks")]


@pytest.fixture
def engaged(operator):
    services.kill_switch_latch(actor=operator, reason="stop everything")
    cache.delete(CACHE_KEY)  # the test transaction does not commit; drop the cached state by hand


def test_api_order_refused(aapl, broker, frozen, engaged, api_as, operator):
    resp = api_as(operator).post(
        "/api/v1/orders/", {"symbol": "AAPL", "side": "buy", "qty": "5", "type": "market", "reason": "test"},
        format="json",
    )
    assert resp.status_code == 422 and resp.json()["code"] == "KILL_SWITCH_ENGAGED"
    order = Order.objects.get()
    assert (order.status, order.reject_code, order.source) == ("rejected", "KILL_SWITCH_ENGAGED", "api")
    assert broker.submit_calls == 0


def test_console_manual_order_refused(aapl, broker, frozen, engaged, client, operator):
    client.force_login(operator)
    resp = client.post("/orders/confirm/", {
        "symbol": "AAPL", "side": "buy", "qty": "5", "order_type": "market", "limit_price": "", "time_in_force": "day",
        "client_order_id": "manual-0123456789abcdef", "reason": "manual test",
    })
    assert resp.status_code == 422
    order = Order.objects.get(client_order_id="manual-0123456789abcdef")
    assert (order.status, order.reject_code, order.source) == ("rejected", "KILL_SWITCH_ENGAGED", "manual")
    assert broker.submit_calls == 0
    assert order.qty == Decimal(5)


def test_rebalance_workflow_order_refused(aapl, broker, frozen, engaged):
    from orders.pretrade import PreTradeRejection
    from workflow.daily import PlannedOrder, _risk_blocked_live, order_route

    # the workflow's own risk step stops the chain...
    assert _risk_blocked_live() == "the kill switch is engaged: no rebalance orders"
    # ...and its submission path is refused by the gateway even if called directly
    planned = PlannedOrder(symbol="AAPL", side="buy", qty=Decimal(5), price=Decimal(100), target_qty=Decimal(5),
                           current_qty=Decimal(0))
    with pytest.raises(PreTradeRejection) as info:
        order_route(planned=planned, client_order_id="rebalance-live-2026-03-10-AAPL-buy", strategy="rebalance",
                    reason="rebalance 2026-03-10")
    assert info.value.code == "KILL_SWITCH_ENGAGED"
    order = Order.objects.get()
    assert (order.status, order.reject_code, order.source) == ("rejected", "KILL_SWITCH_ENGAGED", "signal")
    assert broker.submit_calls == 0


def test_twap_slice_dispatch_refused(aapl, broker, frozen, operator):
    from orders.slicing import slice_dispatch, twap_order_place

    # given a TWAP parent with scheduled slices created before the switch was engaged
    parent = twap_order_place(symbol="AAPL", side="buy", qty="9", slices=3, horizon_minutes=3, actor=operator,
                               source="twap", reason="large order").order
    children = list(Order.objects.filter(parent_order=parent).order_by("slice_num"))
    assert [c.status for c in children] == ["scheduled"] * 3
    # when the switch is latched (without the unwind, to test the dispatch itself) and a slice is dispatched
    services.kill_switch_latch(actor=operator, reason="stop TWAP")
    cache.delete(CACHE_KEY)
    slice_dispatch(order_id=children[0].pk)
    # then the slice is refused at the gateway, nothing reached the broker
    first = Order.objects.get(pk=children[0].pk)
    assert (first.status, first.reject_code) == ("rejected", "KILL_SWITCH_ENGAGED")
    assert broker.submit_calls == 0
