"""Each fault of the fault-injecting fake Alpaca, through the real gateway and adapter over HTTP: the
ledger ends where the broker is — accepted when the broker has the order, failed when it does not,
unknown (never failed) while the answer may still come."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from orders.brokers import use_broker
from orders.brokers.base import RateLimited
from orders.gateway import order_place, order_resolve
from orders.models import Order
from tests.fakes.alpaca_trading import FakeAlpaca, adapter_for
from trading_site.lib import clock

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake():
    with FakeAlpaca() as server:
        server.quotes["AAPL"] = (D("99.98"), D("100.02"))
        yield server


@pytest.fixture
def alpaca(fake):
    broker = adapter_for(fake, retry_attempts=2)
    with use_broker(broker):
        yield broker


def after_the_grace_period(order: Order) -> Order:
    """The resolver, once the submission can no longer be in flight (the row aged past the grace)."""
    Order.objects.filter(pk=order.pk).update(updated_at=clock.now() - dt.timedelta(hours=1))
    return order_resolve(order_id=order.pk)


def submit(cid: str) -> Order:
    return order_place(symbol="AAPL", side="buy", qty="2", source="api", client_order_id=cid).order


@pytest.mark.slow  # over 1.5 s here: kept out of make test-fast
def test_slow_registration_within_the_timeout_is_accepted(aapl, fake, alpaca):
    fake.fault("slow", seconds=1.5)
    order = submit("f-slow")
    assert order.status == "accepted" and order.broker_order_id == fake.by_client_id["f-slow"].id


@pytest.mark.parametrize("mode", [
    pytest.param("hang", marks=pytest.mark.slow),  # waits out the 2 s client timeout: kept out of make test-fast
    "500_before",
])
def test_nothing_registered_is_unknown_then_failed_not_at_broker(aapl, fake, alpaca, mode):
    fake.fault(mode, seconds=3.0)  # hang: past the 2 s client timeout
    order = submit(f"f-{mode}")
    assert order.status == "unknown"
    assert order_resolve(order_id=order.pk).status == "unknown"  # may still be in flight: not failed
    resolved = after_the_grace_period(order)
    assert (resolved.status, resolved.reject_code) == ("failed", "NOT_AT_BROKER")
    assert f"f-{mode}" not in fake.by_client_id


@pytest.mark.parametrize("mode", ["500_after", "drop_after"])
def test_registered_but_answer_lost_is_unknown_then_found(aapl, fake, alpaca, mode):
    fake.fault(mode)
    order = submit(f"f-{mode}")
    assert order.status == "unknown"
    resolved = order_resolve(order_id=order.pk)  # found at once: no grace needed
    assert resolved.status == "accepted" and resolved.broker_order_id == fake.by_client_id[f"f-{mode}"].id
    assert len(fake.orders) == 1


def test_429_twice_is_retried_by_alpaca_py_into_an_acceptance(aapl, fake, alpaca):
    fake.fault("429", times=2)
    order = submit("f-429x2")
    assert order.status == "accepted"
    assert [r.outcome for r in fake.request_log if r.method == "POST"] == ["429", "429", "200"]


def test_429_always_fails_the_order_and_places_nothing(aapl, fake, alpaca):
    fake.fault("429", times=None)
    with pytest.raises(RateLimited):
        order_place(symbol="AAPL", side="buy", qty="2", source="api", client_order_id="f-429")
    order = Order.objects.get(client_order_id="f-429")
    assert (order.status, order.reject_code) == ("failed", "RATE_LIMITED")
    assert fake.calls("POST", "/v2/orders") == 3 and not fake.orders  # the first try and 2 retries
    fake.faults_clear()
    assert after_the_grace_period(order).status == "failed"  # reconciliation agrees: not at the broker


def test_fault_cycle_applies_every_nth_submission_request(aapl, fake, alpaca):
    fake.fault_cycle(("429_twice", "500_after"), every=3)
    orders = [submit(f"cyc-{i}") for i in range(4)]
    # requests: cyc-0, cyc-1, cyc-2 (3rd: 429), its retries (429, then 200), cyc-3 (6th: 500 after accepting)
    assert [o.status for o in orders] == ["accepted", "accepted", "accepted", "unknown"]
    assert fake.faults_applied == [("429_twice", "cyc-2"), ("500_after", "cyc-3")]
    assert len(fake.orders) == 4
