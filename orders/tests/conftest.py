"""Fixtures for the orders tests: market data rows, an isolated hook registry, the simulated broker."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
import time_machine

from marketdata.models import Asset, Bar
from orders import events, pretrade
from orders.brokers import use_broker
from orders.brokers.simulated import SimulatedBroker
from orders.conf import conf
from orders.selectors import price_cache_clear
from trading_site.lib import broker_budget

# Tuesday 10 March 2026, 15:00 UTC = 11:00 in New York (EDT): inside the NYSE session.
T0 = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def isolated_hooks():
    """Other apps' pre-trade checks and fill listeners are tested by those apps; start empty here."""
    saved_checks, saved_listeners = dict(pretrade._checks), dict(events._listeners)
    saved_budget = broker_budget.registration()
    pretrade._checks.clear()
    events._listeners.clear()
    broker_budget.register(take=None, rate_limited=None)  # the risk app's budget: risk/tests
    price_cache_clear()
    yield
    broker_budget.register(take=saved_budget[0], rate_limited=saved_budget[1])
    pretrade._checks.clear()
    pretrade._checks.update(saved_checks)
    events._listeners.clear()
    events._listeners.update(saved_listeners)
    price_cache_clear()


@pytest.fixture(autouse=True)
def sim_conf():
    """Known fill-model parameters for every test (restored afterwards)."""
    saved = dict(vars(conf))
    conf.sim_slippage_bps = Decimal("2")
    conf.sim_impact_coef_bps = Decimal("10")
    conf.sim_commission_per_share = Decimal("0")
    conf.sim_commission_min = Decimal("0")
    conf.sim_participation = Decimal("0.10")
    conf.sim_default_adv = Decimal("1000000")
    conf.sim_reject_rate = 0.0
    conf.sim_latency_ms = 0
    conf.sim_fail_submit_match = ""
    conf.unknown_grace_seconds = 30
    yield conf
    vars(conf).update(saved)


@pytest.fixture
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


class CountingBroker:
    """Wraps a broker and counts submit calls (thread-safe); optionally fails like a real network."""

    def __init__(self, inner, *, submit_error: Exception | None = None, error_after_send: bool = True, delay: float = 0.0):
        self.inner = inner
        self.submit_calls = 0
        self.submit_error = submit_error
        self.error_after_send = error_after_send
        self.delay = delay
        self._lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def submit_order(self, request):
        import time

        with self._lock:
            self.submit_calls += 1
        if self.delay:
            time.sleep(self.delay)
        if self.submit_error is not None and not self.error_after_send:
            raise self.submit_error
        result = self.inner.submit_order(request)
        if self.submit_error is not None:
            raise self.submit_error  # the broker got it, but the answer was lost
        return result


@pytest.fixture
def sim_broker():
    broker = SimulatedBroker(market_hours="always")
    with use_broker(broker):
        yield broker


@pytest.fixture
def counting_broker(sim_broker):
    broker = CountingBroker(sim_broker)
    with use_broker(broker):
        yield broker


def make_asset(symbol: str = "AAPL", *, price: str = "100", fractionable: bool = False, tradable: bool = True,
               session: dt.date = dt.date(2026, 3, 9), ohlc: tuple[str, str, str, str] | None = None,
               volume: str | None = None) -> Asset:
    asset = Asset.objects.create(symbol=symbol, name=symbol, fractionable=fractionable, tradable=tradable)
    o, h, low, c = ohlc or (price, price, price, price)
    Bar.objects.create(
        asset=asset, session=session, open=Decimal(o), high=Decimal(h), low=Decimal(low), close=Decimal(c),
        volume=Decimal(volume) if volume else None,
    )
    return asset


@pytest.fixture
def aapl(db):
    return make_asset("AAPL", price="100")
