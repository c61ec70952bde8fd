"""The rebalance sizes to the rollout phase and to the order-rate limit, retries transient broker
errors with back-off, and a run that gave up mid-submit resumes: re-running the day submits exactly
the missing orders.

The assertions hold with inline and with streamed fills: they count orders and their statuses at
the broker boundary (submitted or not), never fills.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache

from orders.brokers import use_broker
from orders.brokers.base import RateLimited
from orders.brokers.simulated import SimulatedBroker
from orders.conf import conf as orders_conf
from orders.models import Order
from risk import limiter
from risk.checks import BROKER_RATE_KEY, ORDER_RATE_KEY
from risk.models import RiskLimits, RolloutPhase
from risk.state import CACHE_KEY
from trading_site.models import Alert
from workflow.daily import PhaseBounds, live_inputs, rebalance_run, sizing_within_phase
from workflow.tests.test_workflow import DAY, at, market  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("market")]

D = Decimal
TWO_ORDERS_DAY = dt.date(2010, 11, 1)  # the small market's sma rebalance buys GOOG and IBM that day
NOT_SENT = ("rejected", "failed")


@pytest.fixture(autouse=True)
def rate_windows_clear():
    """The order-rate windows live in Redis: start empty (other tests count orders at other times)."""
    for name in (ORDER_RATE_KEY, BROKER_RATE_KEY):
        limiter.clear(name=name)
    yield
    for name in (ORDER_RATE_KEY, BROKER_RATE_KEY):
        limiter.clear(name=name)


class FlakyBroker:
    """The simulated exchange behind a broker that answers 429 to submissions number ``fail_from``
    onwards (1-based), ``times`` times in a row (None: until healed)."""

    def __init__(self, inner, *, fail_from: int, times: int | None) -> None:
        self.inner, self.fail_from, self.times = inner, fail_from, times
        self.calls = 0
        self.failed = 0
        self.accepted: list[str] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def submit_order(self, request):
        self.calls += 1
        if self.calls >= self.fail_from and (self.times is None or self.failed < self.times):
            self.failed += 1
            raise RateLimited("429 Too Many Requests (injected)")
        result = self.inner.submit_order(request)
        self.accepted.append(request.symbol)
        return result


def _inputs(traveller):
    inputs = live_inputs()
    inputs.sleep = lambda seconds: traveller.shift(seconds)  # the waits pass on the frozen clock
    return inputs


def test_sizing_within_phase_hand_worked():
    phase = PhaseBounds(number=1, capital_cap=D("500"), symbols=("A", "B"))
    weights, equity = sizing_within_phase(weights={"A": 0.4, "B": 0.4, "C": 0.2}, equity=D("100000"), phase=phase)
    # C is outside the allow-list; 500 / 0.8 = 625 of equity, so A and B target 250 each
    assert (weights, equity) == ({"A": 0.4, "B": 0.4}, D("625.00"))
    assert sizing_within_phase(weights={"A": 0.5}, equity=D("300"), phase=phase) == ({"A": 0.5}, D("300"))
    assert sizing_within_phase(weights={"C": 1.0}, equity=D("9"), phase=None) == ({"C": 1.0}, D("9"))


def test_phase_one_with_a_100000_account_trades_within_the_cap():
    # given a $100,000 account in rollout phase 1 ($500 cap), enforced on paper, allow-list without GOOG
    orders_conf.sim_starting_cash = D("100000")  # the market fixture restores the setting after the test
    with use_broker(SimulatedBroker(market_hours="nyse")):
        RolloutPhase.objects.filter(number=1).update(capital_cap=D("500"), symbols=["AAPL", "IBM", "MSFT"])
        RiskLimits.objects.filter(pk=1).update(rollout_phase=1, rollout_on_paper=True)
        cache.delete(CACHE_KEY)
        with at(DAY, 15, 45):
            run = rebalance_run(day=DAY)
    # then the run completes, its orders are sized within the cap and none is refused
    assert run.status == "completed", run.error
    orders = list(Order.objects.all())
    assert len(orders) == run.orders_submitted == len(run.planned) > 0
    assert run.orders_rejected == 0
    assert not [o for o in orders if o.status in NOT_SENT]
    assert {o.symbol for o in orders} <= {"AAPL", "IBM", "MSFT"}
    gross = sum(p.qty * p.price for p in run.planned)
    assert D(0) < gross <= D("500")
    rollout = run.steps.get(name="orders").detail["rollout"]
    assert (rollout["phase"], D(rollout["capital_cap"])) == (1, D("500"))
    assert set(rollout["excluded"]) <= {"GOOG"}
    assert D(rollout["sizing_equity"]) < D("100000")


def test_orders_beyond_the_rate_limit_wait_for_the_next_minute():
    # given a limit of 1 order a minute and a rebalance of two orders
    RiskLimits.objects.filter(pk=1).update(orders_per_minute=1)
    cache.delete(CACHE_KEY)
    with at(TWO_ORDERS_DAY, 15, 45) as traveller:
        run = rebalance_run(day=TWO_ORDERS_DAY, inputs=_inputs(traveller))
    # then every planned order went out (none refused for the rate), two per minute
    orders = list(Order.objects.order_by("created_at", "pk"))
    assert [(p.symbol, p.side) for p in run.planned] == [("GOOG", "buy"), ("IBM", "buy")]
    assert run.status == "completed" and run.orders_rejected == 0
    assert len(orders) == 2 and not [o for o in orders if o.status in NOT_SENT]
    assert [(o.symbol, o.created_at.minute) for o in orders] == [("GOOG", 45), ("IBM", 46)]


def test_transient_broker_errors_are_retried_with_back_off():
    flaky = FlakyBroker(SimulatedBroker(market_hours="nyse"), fail_from=1, times=2)
    waits = []
    with use_broker(flaky), at(DAY, 15, 45) as traveller:
        inputs = _inputs(traveller)
        inputs.sleep = lambda seconds: (waits.append(seconds), traveller.shift(seconds))
        run = rebalance_run(day=DAY, inputs=inputs)
    assert run.status == "completed" and run.orders_rejected == 0
    assert waits == [2.0, 4.0]  # exponential back-off
    live = Order.objects.exclude(status__in=NOT_SENT)
    assert sorted(live.values_list("symbol", flat=True)) == sorted(p.symbol for p in run.planned)
    assert Order.objects.filter(status="failed", reject_code="RATE_LIMITED").count() == 2


def test_a_run_that_gives_up_mid_submit_resumes_with_exactly_the_missing_orders():
    # given a broker that answers 429 from the second submission on, beyond the retries
    flaky = FlakyBroker(SimulatedBroker(market_hours="nyse"), fail_from=2, times=None)
    with use_broker(flaky), at(TWO_ORDERS_DAY, 15, 45) as traveller:
        run = rebalance_run(day=TWO_ORDERS_DAY, inputs=_inputs(traveller))
        # then the run failed at submit with an alert; the first order is live
        assert (run.status, run.failed_step) == ("failed", "submit")
        assert "gave up on" in run.error
        alert = Alert.objects.get(metric="rebalance_failed")
        assert "failed at step submit" in alert.message
        planned = {(p.symbol, p.side, p.qty) for p in run.planned}
        first_accepted = list(flaky.accepted)
        assert first_accepted == ["GOOG"] and {s for s, _, _ in planned} == {"GOOG", "IBM"}
        # when the broker recovers and the day is re-run
        flaky.times = flaky.failed
        traveller.shift(60)
        again = rebalance_run(day=TWO_ORDERS_DAY, inputs=_inputs(traveller))
    # then it completes, and the broker received exactly the missing orders: each planned order once
    assert again.pk == run.pk and again.status == "completed" and again.attempts == 2
    resumed = flaky.accepted[1:]
    assert resumed == ["IBM"]
    assert sorted(first_accepted + resumed) == sorted(s for s, _, _ in planned)
    assert not set(first_accepted) & set(resumed)
    live = Order.objects.exclude(status__in=NOT_SENT)
    assert {(o.symbol, o.side, o.qty) for o in live} == planned and live.count() == len(planned)
