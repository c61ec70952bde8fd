"""Fixtures for the risk tests: a clean cache/limiter (Redis db of this app), intents, states."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache

from marketdata.models import Asset, Bar
from orders.brokers import use_broker
from orders.brokers.simulated import SimulatedBroker
from orders.pretrade import OrderIntent
from risk.state import LimitsData, RiskState
from tests.hooks import hooks_narrowed

D = Decimal

# Tuesday 10 March 2026, 15:00 UTC = 11:00 New York (EDT): inside the NYSE session.
T_OPEN = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)
# Saturday 14 March 2026.
T_WEEKEND = dt.datetime(2026, 3, 14, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def clean_cache():
    """The cache (and the limiter's sorted sets) live in this app's own Redis db: start empty."""
    from risk.orders_port import account_cache_clear

    cache.clear()
    account_cache_clear()
    yield
    cache.clear()
    account_cache_clear()


@pytest.fixture(autouse=True)
def risk_rows(request):
    """The rows the migration seeds (transactional tests flush them, so ensure them per test)."""
    if request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("db" if not _transactional(request) else "transactional_db")
    from risk.services import risk_defaults_ensure

    risk_defaults_ensure()


def _transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker.kwargs.get("transaction") or (marker.args and marker.args[0]))


def make_intent(**overrides) -> OrderIntent:
    values = {
        "symbol": "AAPL",
        "side": "buy",
        "qty": Decimal("10"),
        "order_type": "market",
        "time_in_force": "day",
        "source": "api",
        "now": T_OPEN,
        "reference_price": Decimal("100"),
    }
    values.update(overrides)
    return OrderIntent(**values)


def make_state(*, engaged: bool = False, open_breakers: tuple[str, ...] = (), phase=None, **limits) -> RiskState:
    return RiskState(
        kill_switch_engaged=engaged,
        open_breakers=open_breakers,
        limits=replace(LimitsData.defaults(), **limits),
        phase=phase,
    )


@pytest.fixture
def intent_factory():
    return make_intent


class CountingBroker:
    def __init__(self, inner):
        self.inner = inner
        self.submit_calls = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def submit_order(self, request):
        self.submit_calls += 1
        return self.inner.submit_order(request)


@pytest.fixture
def only_risk_checks(settings):
    """The gateway runs exactly the risk app's checks (other apps test theirs)."""
    settings.BROKER, settings.SIM_MARKET_HOURS, settings.ALPACA_PAPER = "simulated", "nyse", True
    with hooks_narrowed(keep_checks="risk."):
        yield


@pytest.fixture
def broker():
    counting = CountingBroker(SimulatedBroker(market_hours="always"))
    with use_broker(counting):
        yield counting


@pytest.fixture
def frozen():
    with time_machine.travel(T_OPEN, tick=False) as traveller:
        yield traveller


def asset(symbol="AAPL", price="100", session=dt.date(2026, 3, 9)):
    a = Asset.objects.create(symbol=symbol, name=symbol)
    p = D(price)
    Bar.objects.create(asset=a, session=session, open=p, high=p, low=p, close=p)
    return a


@pytest.fixture
def aapl():
    return asset()


@pytest.fixture
def redis_db_env(settings):
    """Child processes share this app's Redis db (limiter windows, Celery queue)."""
    return {"REDIS_URL": settings.REDIS_URL}
