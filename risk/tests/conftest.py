"""Fixtures for the risk tests: a clean cache/limiter (Redis db of this app), intents, states."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest
from django.core.cache import cache

from orders.pretrade import OrderIntent
from risk.state import LimitsData, RiskState

# Tuesday 10 March 2026, 15:00 UTC = 11:00 New York (EDT): inside the NYSE session.
T_OPEN = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)
# Saturday 14 March 2026.
T_WEEKEND = dt.datetime(2026, 3, 14, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def clean_cache():
    """The cache (and the limiter's sorted sets) live in this app's own Redis db: start empty."""
    cache.clear()
    yield
    cache.clear()


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
