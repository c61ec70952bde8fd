"""One pre-trade pipeline (orders/pretrade.py, its checks listed in ops/wiring.py): submissions,
the console's confirmation step and ``POST /api/v1/orders/preview/`` run the same checks; a preview
stores, sends and counts nothing, and shows every refusal at once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.core.cache import cache

from console.selectors import order_preview
from marketdata.models import Asset, Bar
from orders import pretrade
from orders.brokers import use_broker
from orders.brokers.simulated import SimulatedBroker
from orders.gateway import order_dry_run, order_place
from orders.models import Order, OrderEvent
from orders.pretrade import PreTradeRejection
from orders.selectors import price_cache_clear
from risk import limiter
from risk.checks import BROKER_RATE_KEY, ORDER_RATE_KEY
from risk.models import RiskLimits
from risk.services import kill_switch_engage, risk_defaults_ensure
from trading_site.models import ActionLog

pytestmark = pytest.mark.django_db

# Tuesday 10 March 2026, 11:00 New York: inside the session.
T_OPEN = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)
ORDER = {"symbol": "AAPL", "side": "buy", "qty": "10", "type": "market"}


@pytest.fixture
def market(settings):
    settings.BROKER, settings.SIM_MARKET_HOURS, settings.SIM_FILL_DELIVERY = "simulated", "nyse", "stream"
    cache.clear()
    limiter.clear(name=ORDER_RATE_KEY)
    limiter.clear(name=BROKER_RATE_KEY)
    price_cache_clear()
    risk_defaults_ensure()
    asset = Asset.objects.create(symbol="AAPL", name="Apple")
    Bar.objects.create(asset=asset, session=dt.date(2026, 3, 9), open=D(100), high=D(100), low=D(100), close=D(100))
    with time_machine.travel(T_OPEN, tick=False), use_broker(SimulatedBroker(market_hours="nyse")):
        yield
    cache.clear()
    limiter.clear(name=ORDER_RATE_KEY)
    limiter.clear(name=BROKER_RATE_KEY)


@pytest.fixture
def extra_check():
    """A check added to the pipeline (as ops/wiring.py would): previews must show it with no other change."""

    def no_odd_lots(intent: pretrade.OrderIntent) -> None:
        if intent.qty % 100:
            raise PreTradeRejection("ODD_LOT", "Only round lots of 100 shares today.")

    pretrade.register_check("test.round_lots", no_odd_lots, order=700)
    yield
    pretrade.unregister_check("test.round_lots")


def _nothing_written() -> bool:
    return not Order.objects.exists() and not OrderEvent.objects.exists() and not ActionLog.objects.exists()


def test_dry_run_runs_every_wired_check_in_order_and_changes_nothing(market, operator):
    run = order_dry_run(symbol="aapl", side="buy", qty="10", source="api", actor=operator)
    assert [c.name for c in run.checks] == pretrade.registered_checks() == ["risk.controls", "wash_sale",
                                                                            "risk.rate_limits"]
    assert run.ok and run.intent.symbol == "AAPL" and run.intent.reference_price == D(100)
    assert _nothing_written()
    assert limiter.count(name=ORDER_RATE_KEY, now=T_OPEN, window=60) == 0  # a preview spends no budget


def test_a_new_check_reaches_the_gateway_the_console_and_the_api_preview(market, operator, extra_check, api_as):
    run = order_dry_run(symbol="AAPL", side="buy", qty="10", source="api", actor=operator)
    assert [(c.name, c.ok, c.code) for c in run.checks if not c.ok] == [("test.round_lots", False, "ODD_LOT")]

    preview = order_preview(symbol="AAPL", side="buy", qty="10", order_type="market", limit_price=None,
                            time_in_force="day", actor=operator)
    assert [(c.name, c.ok, c.code) for c in preview.checks if not c.ok] == [("test.round_lots", False, "ODD_LOT")]

    answer = api_as(operator).post("/api/v1/orders/preview/", ORDER, format="json")
    assert answer.status_code == 200
    body = answer.json()
    assert body["ok"] is False and body["notional"] == "1000.00" and D(body["reference_price"]) == D(100)
    assert [c["name"] for c in body["checks"]] == ["risk.controls", "wash_sale", "test.round_lots",
                                                  "risk.rate_limits"]
    assert _nothing_written()

    with pytest.raises(PreTradeRejection) as refused:
        order_place(symbol="AAPL", side="buy", qty="10", source="api", actor=operator)
    assert refused.value.code == "ODD_LOT"
    assert Order.objects.get().status == "rejected"


def test_a_preview_shows_every_refusal_at_once_and_a_full_rate_window_without_counting(market, operator, api_as):
    kill_switch_engage(actor=operator, reason="drill", flatten=False)
    limits = RiskLimits.objects.get()
    for _ in range(limits.orders_per_minute):
        limiter.hit(name=ORDER_RATE_KEY, now=T_OPEN, window=60, limit=10_000)
    before = limiter.count(name=ORDER_RATE_KEY, now=T_OPEN, window=60)
    answer = api_as(operator).post("/api/v1/orders/preview/", ORDER, format="json")
    refused = {c["name"]: c["code"] for c in answer.json()["checks"] if not c["ok"]}
    assert refused == {"risk.controls": "KILL_SWITCH_ENGAGED", "risk.rate_limits": "ORDER_RATE"}
    assert limiter.count(name=ORDER_RATE_KEY, now=T_OPEN, window=60) == before
    assert not Order.objects.exists()


def test_twap_preview_checks_the_whole_parent(market, operator, api_as):
    body = {**ORDER, "qty": "120", "algo": {"type": "twap", "slices": 6, "horizon_minutes": "30"}}
    answer = api_as(operator).post("/api/v1/orders/preview/", body, format="json")
    assert answer.status_code == 200 and answer.json()["qty"] == "120", answer.json()
    assert answer.json()["ok"] is True, answer.json()["checks"]
    assert not Order.objects.exists()


@pytest.mark.parametrize(("payload", "field"), [
    ({**ORDER, "qty": "0"}, "qty"),
    ({**ORDER, "qty": "1_0"}, "qty"),
    ({**ORDER, "qty": "NaN"}, "qty"),
    ({**ORDER, "symbol": "ZZZZ"}, "symbol"),
    ({**ORDER, "type": "limit"}, "limit_price"),
    ({**ORDER, "algo": {"type": "twap", "slices": 0, "horizon_minutes": "30"}}, "algo"),
])
def test_preview_refuses_bad_input_with_a_400_and_stores_nothing(market, operator, api_as, payload, field):
    answer = api_as(operator).post("/api/v1/orders/preview/", payload, format="json")
    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert body["code"] == "validation_error" and field in body["fields"], body  # the refusal names its field
    assert _nothing_written()


def test_viewers_cannot_preview_orders(market, viewer, api_as):
    assert api_as(viewer).post("/api/v1/orders/preview/", ORDER, format="json").status_code == 403
