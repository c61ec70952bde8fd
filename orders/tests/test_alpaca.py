"""The Alpaca adapter end to end against the local fake Alpaca (REST + websocket), no network."""

from __future__ import annotations

import time
from decimal import Decimal as D

import pytest

from orders.brokers import use_broker
from orders.brokers.alpaca import AlpacaBroker
from orders.brokers.base import (
    BrokerUnavailable,
    DuplicateClientOrderId,
    InsufficientBuyingPower,
    RateLimited,
    SubmitRequest,
    SubPennyPrice,
)
from orders.gateway import order_cancel, order_place, order_resolve
from orders.models import Fill, Order, Position
from orders.reconcile import reconcile_run
from orders.stream import TradeStreamRunner
from tests.fakes.alpaca_trading import FakeAlpaca, adapter_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake():
    with FakeAlpaca() as server:
        server.quotes["AAPL"] = (D("99.98"), D("100.02"))
        yield server


def _broker(fake, *, retry_attempts: int = 0, timeout: float = 2.0):
    return adapter_for(fake, retry_attempts=retry_attempts, timeout=timeout)


@pytest.fixture
def alpaca(fake):
    broker = _broker(fake)
    with use_broker(broker):
        yield broker


def _wait(predicate, runner: TradeStreamRunner, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        runner.process(timeout=0.2)
        if predicate():
            return
    raise AssertionError("condition not reached in time")


@pytest.mark.slow
def test_submit_sets_client_order_id_and_stream_fills_become_fills(aapl, fake, alpaca):
    runner = TradeStreamRunner(alpaca)
    runner.start()
    try:
        assert fake.subscribed.wait(10)
        order = order_place(symbol="AAPL", side="buy", qty="10", source="api", client_order_id="alp-1").order
        assert order.status == "accepted" and order.broker_order_id
        sent = [b for m, p, b in fake.requests if m == "POST" and p == "/v2/orders"]
        assert sent[0]["client_order_id"] == "alp-1" and sent[0]["symbol"] == "AAPL"
        # when Alpaca executes 4 @ 100.10 and then 6 @ 100.20
        fake.fill("alp-1", "4", "100.10")
        _wait(lambda: Order.objects.get(pk=order.pk).filled_qty == D(4), runner)
        fake.fill("alp-1", "6", "100.20")
        _wait(lambda: Order.objects.get(pk=order.pk).status == "filled", runner)
    finally:
        runner.stop()
    order.refresh_from_db()
    # avg = (4 × 100.10 + 6 × 100.20) / 10 = 1001.60 / 10 = 100.16
    assert (order.filled_qty, order.avg_fill_price) == (D(10), D("100.160000"))
    assert list(order.fills.values_list("qty", "price")) == [(D(4), D("100.10")), (D(6), D("100.20"))]
    pos = Position.objects.get(symbol="AAPL")
    assert (pos.qty, pos.avg_cost) == (D(10), D("100.160000"))


def test_duplicate_stream_messages_are_harmless(aapl, fake, alpaca):
    order = order_place(symbol="AAPL", side="buy", qty="5", source="api", client_order_id="alp-dup").order
    message = fake.fill("alp-dup", "5", "100")
    runner = TradeStreamRunner(alpaca)
    for _ in range(3):
        runner.messages.put(message)
    assert runner.process(timeout=0.1) == 3
    order.refresh_from_db()
    assert (order.status, Fill.objects.count(), Position.objects.get().qty) == ("filled", 1, D(5))


def test_cancel_and_lookup_by_client_id(aapl, fake, alpaca):
    order = order_place(symbol="AAPL", side="buy", qty="1", order_type="limit", limit_price="90", source="api",
                         client_order_id="alp-c").order
    found = alpaca.get_order_by_client_id("alp-c")
    assert (found.broker_order_id, found.status, found.qty) == (order.broker_order_id, "accepted", D(1))
    assert alpaca.get_order_by_client_id("nope") is None
    canceled = order_cancel(order=order, reason="test")
    assert fake.calls("DELETE", f"/v2/orders/{order.broker_order_id}") == 1
    # the canceled update arrives on the stream; the polling fallback / resolver sees it over REST too
    resolved = order_resolve(order_id=canceled.pk)
    assert resolved.status == "canceled"


def test_duplicate_client_id_maps_and_gateway_resolves_instead_of_resubmitting(aapl, fake, alpaca):
    alpaca.submit_order(SubmitRequest("alp-d", "AAPL", "buy", D(2), "market", "day"))
    with pytest.raises(DuplicateClientOrderId):
        alpaca.submit_order(SubmitRequest("alp-d", "AAPL", "buy", D(2), "market", "day"))
    # the ledger never recorded the first answer (crash); the gateway hits the 422 and looks it up
    order = order_place(symbol="AAPL", side="buy", qty="2", source="api", client_order_id="alp-d").order
    assert order.status == "accepted" and order.broker_order_id == fake.by_client_id["alp-d"].id
    assert len(fake.orders) == 1


def test_rate_limit_retried_by_alpaca_py_then_mapped(aapl, fake):
    fake.fail_next("POST", "/v2/orders", 429, {"code": 42910000, "message": "rate limit exceeded"})
    with use_broker(_broker(fake, retry_attempts=1)):
        order = order_place(symbol="AAPL", side="buy", qty="1", source="api", client_order_id="alp-429a").order
    assert order.status == "accepted" and fake.calls("POST", "/v2/orders") == 2 and len(fake.orders) == 1
    fake.fail_next("POST", "/v2/orders", 429, {"code": 42910000, "message": "rate limit exceeded"})
    with use_broker(_broker(fake, retry_attempts=0)), pytest.raises(RateLimited):
        order_place(symbol="AAPL", side="buy", qty="1", source="api", client_order_id="alp-429b")
    assert Order.objects.get(client_order_id="alp-429b").status == "failed"
    assert len(fake.orders) == 1


def test_insufficient_buying_power(aapl, fake, alpaca):
    fake.buying_power = D("50")
    with pytest.raises(InsufficientBuyingPower):
        order_place(symbol="AAPL", side="buy", qty="1", source="api", client_order_id="alp-bp")
    order = Order.objects.get()
    assert (order.status, order.reject_code) == ("rejected", "INSUFFICIENT_BUYING_POWER")


def test_sub_penny_price_from_alpaca_is_mapped(fake, alpaca):
    with pytest.raises(SubPennyPrice):
        alpaca.submit_order(SubmitRequest("alp-sp", "AAPL", "buy", D(1), "limit", "day", D("10.001")))


def test_timeout_marks_unknown_and_resolver_finds_it(aapl, fake):
    fake.delay_next("POST", "/v2/orders", 1.5)
    broker = _broker(fake, timeout=0.5)
    with use_broker(broker):
        order = order_place(symbol="AAPL", side="buy", qty="3", source="api", client_order_id="alp-t").order
        assert order.status == "unknown"
        resolved = order_resolve(order_id=order.pk)
    assert resolved.status == "submitted" or resolved.status == "accepted"
    assert resolved.broker_order_id == fake.by_client_id["alp-t"].id
    assert fake.calls("POST", "/v2/orders") == 1 and len(fake.orders) == 1


def test_server_error_is_unknown_then_missed_fill_reconciled(aapl, fake, alpaca):
    fake.fail_next("POST", "/v2/orders", 500, {"code": 50010000, "message": "internal error"})
    order = order_place(symbol="AAPL", side="buy", qty="3", source="api", client_order_id="alp-500").order
    assert order.status == "unknown"
    assert order_resolve(order_id=order.pk).status == "unknown"  # younger than the grace: may be in flight
    Order.objects.filter(pk=order.pk).update(updated_at=order.updated_at.replace(year=2020))
    resolved = order_resolve(order_id=order.pk)
    assert (resolved.status, resolved.reject_code) == ("failed", "NOT_AT_BROKER")
    # a filled order whose stream updates were lost is booked by reconciliation from REST
    other = order_place(symbol="AAPL", side="buy", qty="2", source="api", client_order_id="alp-r").order
    fake.fill("alp-r", "2", "101.5")
    Order.objects.filter(pk=other.pk).update(updated_at=other.updated_at.replace(year=2020))
    reconcile_run(snapshot=False)
    other.refresh_from_db()
    assert (other.status, other.filled_qty, other.avg_fill_price) == ("filled", D(2), D("101.500000"))


def test_account_positions_quote_and_health(aapl, fake, alpaca):
    account = alpaca.get_account()
    assert (account.cash, account.equity, account.pattern_day_trader, account.daytrade_count) == (
        D("100000"), D("100000"), None, None)
    fake.pattern_day_trader = False
    assert alpaca.get_account().pattern_day_trader is False
    order_place(symbol="AAPL", side="buy", qty="2", source="api", client_order_id="alp-p")
    fake.fill("alp-p", "2", "100")
    [pos] = alpaca.list_positions()
    assert (pos.symbol, pos.qty, pos.avg_entry_price) == ("AAPL", D(2), D(100))
    quote = alpaca.latest_quote("AAPL")
    assert (quote.bid, quote.ask, quote.last) == (D("99.98"), D("100.02"), D("100.0000"))
    assert alpaca.health()["ok"] is True


def test_wrong_keys_are_not_a_silent_success(fake):
    broker = AlpacaBroker(api_key="wrong", secret_key="x", paper=True, url_override=fake.base_url, timeout=2,
                          retry_attempts=0, retry_wait_seconds=0)
    assert broker.health()["ok"] is False
    with pytest.raises(BrokerUnavailable.__mro__[1]):
        broker.get_account()
