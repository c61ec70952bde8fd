"""The broker-request budget with real processes: the Alpaca trade-stream process polls 30 open orders
over a quiet stream against the fault-injecting fake Alpaca, while this process places new orders.

Acceptance (issue 16): at most 200 broker REST calls in any 60 s window, and a new submission still
goes out within 1 s although the poll would use far more than the budget (30 lookups a second).
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal as D

import pytest
from django.core.cache import cache

from orders.brokers import use_broker
from orders.gateway import order_place
from orders.tests.conftest import make_asset
from risk import conf as risk_conf
from risk import limiter
from risk.checks import BROKER_RATE_KEY
from risk.services import risk_defaults_ensure
from tests.fakes.alpaca_trading import KEY, SECRET, FakeAlpaca, adapter_for, resting_buy
from tests.processes import child_env, log_tail, running, wait_for
from trading_site.lib import clock

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

LOOKUP = "/v2/orders:by_client_order_id"


def alpaca_env(fake: FakeAlpaca, **extra: str) -> dict[str, str]:
    """A child process on Alpaca (the fake), keys from the environment backend, this test's Redis."""
    base = {
        "BROKER": "alpaca",
        "SECRETS_BACKEND": "env",
        "ALPACA_API_KEY": KEY,
        "ALPACA_SECRET_KEY": SECRET,
        "ALPACA_PAPER": "true",
        "ALPACA_URL_OVERRIDE": fake.base_url,
        "ALPACA_STREAM_URL_OVERRIDE": fake.stream_url,
        "ALPACA_DATA_URL_OVERRIDE": fake.base_url,
        "ALPACA_RETRY_ATTEMPTS": "0",
        "SIM_MARKET_HOURS": "always",
    }
    return child_env(**(base | extra))


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_thirty_polled_orders_stay_within_the_budget_and_a_new_order_goes_out_at_once(tmp_path, settings):
    settings.SIM_MARKET_HOURS = "always"
    cache.clear()  # no risk state cached by an earlier test (this test's own Redis db)
    risk_defaults_ensure()  # 200 broker requests and 60 orders a minute: reads may use 140
    make_asset("AAPL", price="100", session=clock.today_ny())
    with FakeAlpaca() as fake:
        fake.quotes["AAPL"] = (D("99.98"), D("100.02"))
        broker = adapter_for(fake, retry_attempts=0, timeout=5.0)
        with use_broker(broker):
            for i in range(30):  # resting limit orders: open at the broker until canceled
                resting_buy(f"rest-{i}")
        assert len(fake.orders) == 30
        limiter.clear(name=BROKER_RATE_KEY)  # the measured minute starts with the trade stream
        start = time.monotonic()
        env = alpaca_env(fake, TRADE_STREAM_POLL_SECONDS="1")
        with running({"trade_stream": [sys.executable, "manage.py", "run_trade_stream"]}, env, tmp_path):
            try:
                assert fake.subscribed.wait(60), "the trade stream never subscribed"
                # the stream is quiet: every second the fallback would look up all 30 orders
                wait_for(
                    lambda: sum(1 for r in fake.request_log if r.path == LOOKUP and r.at > start) >= 140,
                    timeout=60,
                    what="the poll using up the reads",
                )
                time.sleep(2)  # the stream keeps trying (and is refused) meanwhile
                latencies = []
                with use_broker(broker):
                    for i in range(3):
                        sent = time.monotonic()
                        order = order_place(
                            symbol="AAPL", side="buy", qty="1", source="api", client_order_id=f"new-{i}"
                        ).order
                        arrived = next(
                            r.at for r in fake.request_log if r.client_order_id == f"new-{i}" and r.method == "POST"
                        )
                        latencies.append(arrived - sent)
                        assert order.status == "accepted"
                        time.sleep(1)
                time.sleep(3)
            except AssertionError as exc:
                pytest.fail(f"{exc}\n{log_tail(tmp_path, 'trade_stream')}")
    measured = [r for r in fake.request_log if r.at > start]
    lookups = [r for r in measured if r.path == LOOKUP]
    # the poll wanted ~30 lookups a second; it got the reads' share and no more, and backed off
    assert 140 - 5 <= len(lookups) <= 140, len(lookups)
    assert most_in_any_window([r.at for r in measured], risk_conf.RATE_WINDOW_SECONDS) <= 200
    assert not [r for r in measured if r.outcome == "429"]
    assert max(latencies) < 1.0, latencies
