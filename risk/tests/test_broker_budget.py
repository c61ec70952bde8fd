"""One broker-request budget for every Alpaca REST call, against the local fake Alpaca (real HTTP, real
Redis window): reads stop at their ceiling without being sent, submissions and cancels still go out,
a 429 (on a read too) pauses reads and counts toward the ``broker_errors`` breaker, and the trade
stream's polling fallback backs off and resumes where it stopped."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from orders.brokers import use_broker
from orders.brokers.base import RateLimited, RequestBudgetExhausted
from orders.gateway import order_cancel, order_place
from orders.models import Order
from orders.stream import TradeStreamRunner
from risk import conf, limiter, services
from risk.checks import BROKER_RATE_KEY
from risk.models import CircuitBreaker
from risk.tests.test_gateway_integration import limits
from tests.fakes.alpaca_trading import FakeAlpaca, adapter_for, resting_buy
from trading_site.lib import clock

# The shared request window lives in Redis as in production (the file fallback is per process).
pytestmark = [pytest.mark.django_db, pytest.mark.redis, pytest.mark.usefixtures("only_risk_checks")]

LOOKUP = "/v2/orders:by_client_order_id"


@pytest.fixture
def fake(settings):
    settings.SIM_MARKET_HOURS = "always"
    with FakeAlpaca() as server:
        server.quotes["AAPL"] = (D("99.98"), D("100.02"))
        yield server


@pytest.fixture
def alpaca(fake):
    broker = adapter_for(fake, retry_attempts=0)
    with use_broker(broker):
        yield broker


def used() -> int:
    return limiter.count(name=BROKER_RATE_KEY, now=clock.now(), window=conf.RATE_WINDOW_SECONDS)


def test_read_ceiling_keeps_room_for_orders():
    # 200 requests, 60 orders a minute: reads get 200 − 60 = 140; a small budget keeps half for orders
    assert services.broker_read_ceiling(limit=200, orders_per_minute=60) == 140
    assert services.broker_read_ceiling(limit=10, orders_per_minute=60) == 5
    assert services.broker_read_ceiling(limit=1, orders_per_minute=60) == 1


def test_reads_stop_at_their_ceiling_unsent_while_orders_and_cancels_go_out(aapl, fake, alpaca):
    limits(broker_requests_per_minute=10, orders_per_minute=4)  # reads: 10 − 4 = 6
    for i in range(6):
        assert alpaca.get_order_by_client_id(f"none-{i}") is None
    with pytest.raises(RequestBudgetExhausted):
        alpaca.get_order_by_client_id("none-6")
    with pytest.raises(RequestBudgetExhausted):
        alpaca.get_account()
    assert fake.calls("GET", LOOKUP) == 6 and fake.calls("GET", "/v2/account") == 0  # refused ones never sent
    # a submission still goes out — with the quote its price-band check reads, which has the order's
    # priority (request 7 of 10), the submission itself (8, counted once: by the pre-trade rate check) —
    # and a cancel (9)
    order = resting_buy("budget-1")
    assert order.status == "accepted" and fake.calls("POST", "/v2/orders") == 1
    order_cancel(order=order, reason="test")
    assert fake.calls("DELETE", f"/v2/orders/{order.broker_order_id}") == 1
    assert fake.calls("GET", "/v2/stocks/quotes/latest") == 1
    assert used() == 9


def test_a_429_on_a_read_pauses_reads_but_not_submissions(aapl, fake, alpaca):
    fake.fail_next("GET", LOOKUP, 429, {"code": 42910000, "message": "rate limit exceeded"})
    with pytest.raises(RateLimited) as info:
        alpaca.get_order_by_client_id("x")
    assert not isinstance(info.value, RequestBudgetExhausted)  # the broker's 429, mapped
    with pytest.raises(RequestBudgetExhausted):
        alpaca.get_order_by_client_id("x")  # paused: not sent
    assert fake.calls("GET", LOOKUP) == 1
    assert limiter.count(name=services.BROKER_ERRORS_KEY, now=clock.now(), window=60) == 1
    order = order_place(symbol="AAPL", side="buy", qty="1", source="api", client_order_id="budget-2").order
    assert order.status == "accepted" and fake.calls("POST", "/v2/orders") == 1


def test_read_429s_trip_the_broker_errors_breaker(aapl, fake, alpaca):
    fake.fail_next(
        "GET", "/v2/account", 429, {"code": 42910000, "message": "rate limit exceeded"}, times=conf.BROKER_ERROR_BURST
    )
    for _ in range(conf.BROKER_ERROR_BURST):
        with pytest.raises(RateLimited) as info:
            alpaca.get_account()
        assert not isinstance(info.value, RequestBudgetExhausted), info.value.detail
        limiter.pause_clear(name=services.BROKER_READS_PAUSE_KEY)  # the pause has passed
    assert fake.calls("GET", "/v2/account") == conf.BROKER_ERROR_BURST
    breaker = CircuitBreaker.objects.get(name=CircuitBreaker.Name.BROKER_ERRORS)
    assert breaker.state == CircuitBreaker.State.OPEN


def test_poll_backs_off_when_the_budget_is_tight_and_resumes_where_it_stopped(aapl, fake, alpaca):
    orders = [resting_buy(f"poll-{i}") for i in range(12)]
    limiter.clear(name=BROKER_RATE_KEY)
    limits(broker_requests_per_minute=8, orders_per_minute=4)  # reads: 8 − 4 = 4
    runner = TradeStreamRunner(alpaca, poll_seconds=5)
    # 4 reads: the pass stops after 4 of the 12 open orders and the next one waits twice as long
    assert runner.poll() == 4
    assert runner.poll_wait == 10
    assert [r.client_order_id for r in fake.request_log if r.path == LOOKUP] == [f"poll-{i}" for i in range(4)]
    limiter.clear(name=BROKER_RATE_KEY)  # a minute later, with the default budget
    limits(broker_requests_per_minute=200, orders_per_minute=60)
    assert runner.poll() == 12  # the pass starts at the 5th order and wraps around
    assert runner.poll_wait == 5
    second = [r.client_order_id for r in fake.request_log if r.path == LOOKUP][4:]
    assert second == [f"poll-{i}" for i in (*range(4, 12), *range(4))]
    assert all(o.status == "accepted" for o in Order.objects.filter(pk__in=[o.pk for o in orders]))
