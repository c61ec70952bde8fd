"""Fixtures for the operations tests (/metrics, ``manage.py monitor``).

``no_hooks`` and ``risk_only`` narrow the gateway's pre-trade checks and fill listeners (other apps
test theirs), ``exact_fills`` makes the simulated broker fill at the bar price with no costs so
figures are hand-checkable.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache

from orders.conf import conf as orders_conf
from risk.services import risk_defaults_ensure
from tests.hooks import hooks_narrowed

# --- ledger readers: gateway hooks and the simulated fill model ---------------------------------------


@pytest.fixture
def no_hooks():
    """No pre-trade checks and no fill listeners: the monitor only reads the ledger."""
    with hooks_narrowed(keep_checks=None):
        yield


@pytest.fixture
def exact_fills():
    """No slippage, impact, commission, rejections or latency, 100,000 starting cash: every fill is
    at the bar price, so figures are hand-checkable."""
    saved = dict(vars(orders_conf))
    orders_conf.sim_slippage_bps = orders_conf.sim_impact_coef_bps = Decimal(0)
    orders_conf.sim_commission_per_share = orders_conf.sim_commission_min = Decimal(0)
    orders_conf.sim_reject_rate, orders_conf.sim_latency_ms = 0.0, 0
    orders_conf.sim_starting_cash = Decimal("100000")
    yield
    vars(orders_conf).update(saved)


@pytest.fixture
def risk_only(settings, exact_fills):
    """The gateway runs exactly the risk app's checks (with its default limits) and exact fills."""
    settings.BROKER, settings.SIM_MARKET_HOURS, settings.ALPACA_PAPER = "simulated", "nyse", True
    cache.clear()
    with hooks_narrowed(keep_checks="risk."):
        risk_defaults_ensure()
        yield
    cache.clear()
