"""Risk checks on the real gateway with the simulated exchange: every rejection code is stored on
the order with no broker call; breakers let reducing orders through; the kill switch unwinds."""

from decimal import Decimal

import pytest
import time_machine

from marketdata.models import Bar
from orders import pretrade
from orders.brokers import use_broker
from orders.brokers.simulated import SimulatedBroker
from orders.gateway import order_place
from orders.models import AccountSnapshot, Order, OrderEvent, Position
from orders.selectors import price_cache_clear
from risk import checks, services
from risk.models import RiskEvent
from risk.tests.conftest import T_OPEN, T_WEEKEND, CountingBroker, asset
from tests.delivery import stream_deliver

D = Decimal
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("only_risk_checks")]


def reprice(asset_row, price: str) -> None:
    """Move the simulated market: a new flat bar price (callers use a fresh broker, which caches bars)."""
    p = D(price)
    Bar.objects.filter(asset=asset_row).update(open=p, high=p, low=p, close=p)
    price_cache_clear()


def delivered(order: Order) -> Order:
    """The order after the trade stream delivered what the exchange reported (production's path)."""
    stream_deliver()
    order.refresh_from_db()
    return order


def limits(**changes):
    diff = services.limits_update(actor=None, reason="test", changes=changes)
    _drop_cache()
    return diff


def rejected(code: str, broker, **kwargs) -> Order:
    """Place an order expecting ``code``; return the stored order; assert no broker call was made."""
    calls = broker.submit_calls
    params = {"symbol": "AAPL", "side": "buy", "qty": "10", "source": "api"} | kwargs
    with pytest.raises(pretrade.PreTradeRejection) as info:
        order_place(**params)
    assert info.value.code == code
    order = Order.objects.filter(status="rejected").latest("pk")
    assert order.reject_code == code
    assert OrderEvent.objects.filter(order=order, kind="pretrade_rejected").count() == 1
    assert broker.submit_calls == calls
    return order


def _drop_cache():
    """The test transaction never commits, so the on-commit invalidation is done by hand."""
    from django.core.cache import cache

    from risk.state import CACHE_KEY

    cache.delete(CACHE_KEY)


def test_kill_switch_engaged(aapl, broker, frozen, operator):
    services.kill_switch_latch(actor=operator, reason="test")
    _drop_cache()
    for source in ("api", "manual", "signal", "twap", "risk"):
        rejected("KILL_SWITCH_ENGAGED", broker, source=source)


def test_circuit_breaker_blocks_a_buy_but_lets_a_reducing_sell_through(aapl, broker, frozen):
    order_place(symbol="AAPL", side="buy", qty="10", source="api")
    stream_deliver()  # fills arrive over the trade stream
    services.breaker_trip(name="daily_loss", reason="test")
    _drop_cache()
    rejected("CIRCUIT_BREAKER_OPEN", broker, qty="1")
    rejected("CIRCUIT_BREAKER_OPEN", broker, side="sell", qty="11")  # crosses into a short
    sell = order_place(symbol="AAPL", side="sell", qty="4", source="api").order
    sell = delivered(sell)
    assert sell.status == "filled"
    assert Position.objects.get(symbol="AAPL").qty == D(6)


def test_max_order_notional(aapl, broker, frozen):
    limits(max_order_notional=D("1000"))
    rejected("MAX_ORDER_NOTIONAL", broker, qty="11")  # 11 x 100.00 = 1,100.00
    assert delivered(order_place(symbol="AAPL", side="buy", qty="9", source="api").order).status == "filled"


def test_max_position_notional(aapl, broker, frozen):
    limits(max_position_notional=D("1500"))
    order_place(symbol="AAPL", side="buy", qty="10", source="api")
    stream_deliver()  # fills arrive over the trade stream
    rejected("MAX_POSITION_NOTIONAL", broker, qty="6")  # 16 x 100 = 1,600


def test_max_gross_exposure(aapl, broker, frozen):
    asset("MSFT", "200")
    limits(max_gross_exposure=D("3000"))
    order_place(symbol="MSFT", side="buy", qty="10", source="api")  # 10 x 200 = 2,000 gross
    stream_deliver()  # fills arrive over the trade stream
    rejected("MAX_GROSS_EXPOSURE", broker, qty="11")  # + 1,100 = 3,100


def test_price_band(aapl, broker, frozen):
    rejected("PRICE_BAND", broker, order_type="limit", limit_price="106")  # 6% over 100


@pytest.mark.redis
def test_order_rate(aapl, broker, frozen):
    limits(orders_per_minute=3)
    for _ in range(3):
        order_place(symbol="AAPL", side="buy", qty="1", source="api")
        stream_deliver()  # fills arrive over the trade stream
    rejected("ORDER_RATE", broker, qty="1")


@pytest.mark.redis
def test_broker_rate(aapl, broker, frozen):
    limits(broker_requests_per_minute=2)
    services.broker_request_take(kind="cancel")  # a cancel used one request
    order_place(symbol="AAPL", side="buy", qty="1", source="api")
    stream_deliver()  # fills arrive over the trade stream
    rejected("BROKER_RATE", broker, qty="1")


def test_market_closed(aapl, broker):
    with time_machine.travel(T_WEEKEND, tick=False):
        rejected("MARKET_CLOSED", broker, qty="1")


def test_insufficient_buying_power(aapl, broker, frozen):
    AccountSnapshot.objects.create(time=T_OPEN, cash=D("500"), equity=D("500"), buying_power=D("500"), broker="simulated")
    rejected("INSUFFICIENT_BUYING_POWER", broker, qty="6")  # 600 > 500
    assert delivered(order_place(symbol="AAPL", side="buy", qty="5", source="api").order).status == "filled"


def test_rollout_phase_limit_and_symbol_allow_list_when_live(broker, frozen, settings):
    asset("SPY", "100")
    asset("AAPL", "100")
    settings.BROKER, settings.ALPACA_PAPER = "alpaca", False  # live: the phase applies (broker stays simulated here)
    services.risk_defaults_ensure()
    rejected("ROLLOUT_PHASE_LIMIT", broker, symbol="SPY", qty="1")  # live without a phase
    services.rollout_phase_set(actor=None, phase=1, reason="go live, phase 1")
    _drop_cache()
    rejected("SYMBOL_NOT_ALLOWED", broker, symbol="AAPL", qty="1")
    rejected("ROLLOUT_PHASE_LIMIT", broker, symbol="SPY", qty="6")  # 600 > 500 cap
    assert delivered(order_place(symbol="SPY", side="buy", qty="5", source="api").order).status == "filled"


def test_symbol_deny_list(aapl, broker, frozen):
    limits(symbol_denylist=["aapl"])
    rejected("SYMBOL_NOT_ALLOWED", broker, qty="1")


def test_kill_switch_engage_cancels_open_orders_and_scheduled_slices_and_flattens(broker, frozen, operator):
    asset("AAPL", "100")
    asset("MSFT", "200")
    order_place(symbol="AAPL", side="buy", qty="10", source="api")
    stream_deliver()  # fills arrive over the trade stream
    order_place(symbol="MSFT", side="sell", qty="5", source="api")
    stream_deliver()  # fills arrive over the trade stream
    resting = order_place(symbol="AAPL", side="buy", qty="1", order_type="limit", limit_price="99", source="api").order
    resting = delivered(resting)
    assert resting.status == "accepted"
    from orders.slicing import twap_order_place

    parent = twap_order_place(symbol="AAPL", side="buy", qty="6", slices=3, horizon_minutes=30, actor=operator,
                               source="twap", reason="scale in").order
    slices = list(Order.objects.filter(parent_order=parent))
    assert [s.status for s in slices] == ["scheduled"] * 3

    result = services.kill_switch_engage(actor=operator, reason="market turmoil")
    _drop_cache()
    stream_deliver()  # the cancel confirmation and the flatten fills arrive over the stream

    assert result.errors == [] and result.flatten_orders == 2
    resting.refresh_from_db()
    assert resting.status == "canceled"
    assert set(Order.objects.filter(parent_order=parent).values_list("status", flat=True)) == {"canceled"}
    assert set(Position.objects.values_list("symbol", "qty")) == {("AAPL", D(0)), ("MSFT", D(0))}
    flatten = Order.objects.filter(source="kill_switch")
    assert sorted((o.symbol, o.side, o.qty, o.status) for o in flatten) == [
        ("AAPL", "sell", D(10), "filled"), ("MSFT", "buy", D(5), "filled")]
    # counted: the resting order and the TWAP parent, whose cancellation cancelled its scheduled slices
    assert result.cancelled == 2 and Order.objects.get(pk=parent.pk).status == "canceled"
    assert RiskEvent.objects.filter(kind="kill_switch_unwind").get().data["cancelled"] == 2
    # and every new order is refused
    rejected("KILL_SWITCH_ENGAGED", broker, qty="1")


def test_dynamic_exit_goes_through_the_gateway_with_source_risk(broker, frozen):
    a = asset("AAPL", "100")
    order_place(symbol="AAPL", side="buy", qty="10", source="api")  # fills at 100.03
    stream_deliver()  # fills arrive over the trade stream
    # the price falls to 97.00: 97.00 <= 100.03 x 0.97 = 97.0291 → stop-loss
    reprice(a, "97")
    from risk.exits import exits_evaluate

    with use_broker(SimulatedBroker(market_hours="always")):
        results = exits_evaluate(now=T_OPEN)
    # the exit is accepted; its fill arrives over the stream
    assert [(r["symbol"], r["reason"], r["side"], r["qty"], r["status"]) for r in results] == [
        ("AAPL", "stop_loss", "sell", "10.000000000", "accepted")]
    stream_deliver()
    exit_order = Order.objects.get(source="risk")
    assert exit_order.status == "filled"
    assert exit_order.client_order_id == "risk:AAPL:stop_loss:10:100.03:1"
    assert Position.objects.get(symbol="AAPL").qty == D(0)
    assert RiskEvent.objects.filter(kind="exit_submitted", subject="AAPL").count() == 1
    # a repeated poll finds no position and sends nothing
    assert exits_evaluate(now=T_OPEN) == []


def test_dynamic_exit_respects_per_position_override(broker, frozen, operator):
    a = asset("AAPL", "100")
    order_place(symbol="AAPL", side="buy", qty="10", source="api")
    stream_deliver()  # fills arrive over the trade stream
    services.position_risk_set(actor=operator, symbol="AAPL", reason="wider stop", stop_loss_pct=D("0.05"))
    reprice(a, "97")
    from risk.exits import exits_evaluate

    with use_broker(SimulatedBroker(market_hours="always")):
        assert exits_evaluate(now=T_OPEN) == []  # 97 > 100.03 x 0.95 = 95.0285
    reprice(a, "95")
    with use_broker(SimulatedBroker(market_hours="always")):
        assert [r["reason"] for r in exits_evaluate(now=T_OPEN)] == ["stop_loss"]


def test_exit_refused_while_engaged_is_retried_after_reset(broker, frozen, operator, admin_user):
    a = asset("AAPL", "100")
    order_place(symbol="AAPL", side="buy", qty="10", source="api")
    stream_deliver()  # fills arrive over the trade stream
    reprice(a, "97")
    from risk.exits import exits_evaluate

    services.kill_switch_latch(actor=operator, reason="pause")
    _drop_cache()
    with use_broker(SimulatedBroker(market_hours="always")):
        refused = exits_evaluate(now=T_OPEN)
    assert [(r["status"], r["code"]) for r in refused] == [("refused", "KILL_SWITCH_ENGAGED")]
    assert RiskEvent.objects.filter(kind="exit_failed").count() == 1
    services.kill_switch_reset(actor=admin_user, reason="resume")
    _drop_cache()
    with use_broker(SimulatedBroker(market_hours="always")):
        done = exits_evaluate(now=T_OPEN)
    assert [r["status"] for r in done] == ["accepted"]  # filled once the stream delivers
    stream_deliver()
    assert sorted(Order.objects.filter(source="risk").values_list("client_order_id", "status")) == [
        ("risk:AAPL:stop_loss:10:100.03:1", "rejected"), ("risk:AAPL:stop_loss:10:100.03:2", "filled")]


class BrokenCancelBroker(CountingBroker):
    def cancel_order(self, **kwargs):
        raise RuntimeError("connection reset by peer")


def test_failed_unwind_keeps_the_switch_engaged_and_alerts(frozen, operator):
    from trading_site.models import Alert

    asset("AAPL", "100")
    broken = BrokenCancelBroker(SimulatedBroker(market_hours="always"))
    with use_broker(broken):
        resting = order_place(symbol="AAPL", side="buy", qty="1", order_type="limit", limit_price="99", source="api").order
        resting = delivered(resting)
        order_place(symbol="AAPL", side="buy", qty="2", source="api")
        stream_deliver()  # fills arrive over the trade stream
        result = services.kill_switch_engage(actor=operator, reason="broker trouble")
        stream_deliver()  # the flatten order's fill
    _drop_cache()
    assert result.errors == ["cancel_all: RuntimeError: connection reset by peer"]
    assert result.flatten_orders == 1  # flattening still ran after the cancel step failed
    assert RiskEvent.objects.get(kind="unwind_failed").data["errors"] == result.errors
    assert Alert.objects.filter(metric="kill_switch_unwind", severity="critical").count() == 1
    resting.refresh_from_db()
    assert resting.status == "accepted"
    with use_broker(broken):
        rejected("KILL_SWITCH_ENGAGED", broken, qty="1")
    # the retry task finishes the job once the broker answers again
    from risk.tasks import kill_switch_unwind

    with use_broker(SimulatedBroker(market_hours="always")):
        done = kill_switch_unwind(reason="retry", flatten=True)
        stream_deliver()  # the cancel confirmation
    assert done["errors"] == [] and done["cancelled"] == 1
    resting.refresh_from_db()
    assert resting.status == "canceled"


def test_risk_hooks_read_only_the_positions_from_the_database_per_order(aapl, broker, frozen,
                                                                         django_assert_num_queries):
    # given a position, an account snapshot and a warm risk state (cache), quote and account (1 s)
    order_place(symbol="AAPL", side="buy", qty="10", source="api")
    stream_deliver()  # fills arrive over the trade stream
    AccountSnapshot.objects.create(time=T_OPEN, cash=D("100000"), equity=D("101000"), buying_power=D("200000"),
                                   broker="simulated")
    intent = pretrade.OrderIntent(symbol="AAPL", side="buy", qty=D("1"), order_type="limit", time_in_force="day",
                                  source="api", now=T_OPEN, reference_price=D("100"), limit_price=D("100"))
    checks.pretrade_controls(intent)
    checks.pretrade_rate_limits(intent)
    # then a risk-increasing limit order, which runs every rule, costs one query: the positions
    with django_assert_num_queries(1):
        checks.pretrade_controls(intent)
        checks.pretrade_rate_limits(intent)
