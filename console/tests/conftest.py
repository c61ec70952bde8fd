"""Console test fixtures: the real pre-trade checks and fill listeners, the simulated exchange always open.

Prices are flat daily bars (open = high = low = close), so the simulated exchange quotes exactly
the bar price at any hour; with slippage, impact and commission set to zero a market order fills at
that price. ``price_set`` moves a symbol's price (the bar of today's session) for P&L scenarios.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.core.cache import cache

from marketdata.models import Asset, Bar
from orders.brokers import use_broker
from orders.brokers.simulated import SimulatedBroker
from orders.conf import conf
from orders.selectors import price_cache_clear
from risk import limiter
from risk.checks import BROKER_RATE_KEY, ORDER_RATE_KEY
from risk.services import risk_defaults_ensure
from risk.state import CACHE_KEY
from trading_site.lib import clock

# Tuesday 10 March 2026, 15:00 UTC = 11:00 in New York: a regular session.
T0 = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)
BASE_DAY = dt.date(2026, 1, 2)  # the starting bars: before T0 and before the real today


def _reset_shared_state() -> None:
    from console.views import FIGURES_CACHE_KEY, STATUS_CACHE_KEY, orders_changed

    cache.delete_many([CACHE_KEY, FIGURES_CACHE_KEY, FIGURES_CACHE_KEY + ":trade", STATUS_CACHE_KEY])
    orders_changed()  # no orders table rendered by an earlier test
    price_cache_clear()
    for key in (ORDER_RATE_KEY, BROKER_RATE_KEY, "broker_errors"):
        limiter.clear(name=key)


@contextlib.contextmanager
def simulated_exchange(settings) -> Iterator[SimulatedBroker]:
    """Simulated exchange in always-open demo mode, frictionless fills, fresh risk cache and rate counters
    (also the browser tests' world, ``tests/browser/conftest.py``)."""
    settings.BROKER = "simulated"
    settings.SIM_MARKET_HOURS = "always"
    saved = dict(vars(conf))
    conf.sim_slippage_bps = Decimal(0)
    conf.sim_impact_coef_bps = Decimal(0)
    conf.sim_commission_per_share = Decimal(0)
    conf.sim_commission_min = Decimal(0)
    conf.sim_reject_rate = 0.0
    conf.sim_latency_ms = 0
    _reset_shared_state()
    try:
        with use_broker(SimulatedBroker(market_hours="always")) as broker:
            yield broker
    finally:
        vars(conf).update(saved)
        _reset_shared_state()


def market_seed() -> None:
    """AAPL at 100 and MSFT at 200 (bars of BASE_DAY, the latest before any test day), and the risk defaults
    (limits, breakers, kill-switch row)."""
    risk_defaults_ensure()
    price_set("AAPL", "100", day=BASE_DAY)
    price_set("MSFT", "200", day=BASE_DAY)
    cache.delete(CACHE_KEY)


@pytest.fixture(autouse=True)
def console_env(settings):
    with simulated_exchange(settings) as broker:
        yield broker


@pytest.fixture
def sim(console_env):
    return console_env


def price_set(symbol: str, price: str, *, day: dt.date | None = None) -> None:
    """Flat bar for ``day`` (default: today in New York) — the simulated quote from then on."""
    day = day or clock.today_ny()
    asset, _ = Asset.objects.get_or_create(symbol=symbol, defaults={"name": symbol})
    p = Decimal(price)
    Bar.objects.update_or_create(asset=asset, session=day, defaults={"open": p, "high": p, "low": p, "close": p})
    price_cache_clear()
    from orders.brokers import get_broker

    getattr(get_broker(), "_cache", {}).clear()  # the simulated exchange keeps bars for a minute


@pytest.fixture
def market(db):
    market_seed()


@pytest.fixture
def frozen():
    import time_machine

    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def warm_quotes(monkeypatch):
    """Keep quotes cached for the whole test so query counts measure the page, not the quote cache's clock."""
    import orders.selectors

    monkeypatch.setattr(orders.selectors, "_PRICE_TTL", 3600.0)


def buy(symbol: str, qty: str, *, actor=None, side: str = "buy"):
    from orders.gateway import order_place
    from tests.delivery import stream_deliver

    order = order_place(symbol=symbol, side=side, qty=qty, source="api", actor=actor, reason="test fill").order
    stream_deliver()  # the fill arrives over the trade stream, as in production
    order.refresh_from_db()
    return order
