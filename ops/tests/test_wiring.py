"""The one list of what plugs into the lower layers (ops/wiring.py), pinned: a new check, listener,
beat entry, health check or demo step is a deliberate change to this file and to that one."""

from __future__ import annotations

import pytest

from ops import wiring
from orders import events, pretrade
from trading_site import beat, demo, health


def test_pre_trade_checks_run_in_the_wired_order():
    assert [(name, order) for name, _, order in wiring.PRE_TRADE_CHECKS] == [
        ("risk.controls", 10),
        ("wash_sale", 500),
        ("risk.rate_limits", 1000),
    ]
    assert pretrade.registered_checks() == ["risk.controls", "wash_sale", "risk.rate_limits"]


def test_fill_listeners_in_order():
    assert [name for name, _ in wiring.FILL_LISTENERS] == ["tax_lots"]
    assert events.registered_fill_listeners() == ["tax_lots"]


def test_the_broker_request_budget_is_risks():
    from risk import services as risk_services
    from trading_site.lib import broker_budget

    assert (risk_services.broker_request_take, risk_services.broker_rate_limited_record) == wiring.BROKER_BUDGET
    take, rate_limited = broker_budget.registration()
    assert take is not None and rate_limited is risk_services.broker_rate_limited_record


def test_every_beat_entry_is_listed_and_registered(settings):
    settings.BROKER = "simulated"
    settings.DEMO_DAY_MINUTES = 0
    assert list(wiring.beat_entries()) == [
        "platform-heartbeat",
        "orders-reconcile",
        "orders-twap-dispatch",
        "orders-sim-tick",
        "risk-poll",
        "risk-dynamic-exits",
        "tax-daily-blotter",
        "tax-monthly-compliance",
        "workflow-market-open",
        "workflow-rebalance",
        "workflow-market-close",
    ]
    assert {e["task"] for e in wiring.beat_entries().values()} == {
        "platform.heartbeat", "orders.reconcile", "orders.twap_dispatch", "orders.sim_tick", "risk.poll",
        "risk.dynamic_exits", "tax.blotter_daily", "tax.compliance_monthly", "workflow.market_open_tick",
        "workflow.rebalance_tick", "workflow.market_close_tick",
    }
    assert set(wiring.beat_entries()) <= set(beat.BEAT_SCHEDULE)


def test_beat_entries_follow_the_deployment(settings):
    settings.BROKER = "alpaca"
    settings.DEMO_DAY_MINUTES = 3
    names = list(wiring.beat_entries())
    assert "orders-sim-tick" not in names  # no simulated exchange to tick
    assert names[-1] == "demo-day-tick"  # the demo market's fast mode follows the demo clock


def test_every_beat_task_exists():
    from trading_site.celery import app

    app.loader.import_default_modules()
    for name, entry in wiring.beat_entries().items():
        assert entry["task"] in app.tasks, name


@pytest.mark.parametrize(("delivery", "expected"), [("stream", ["secrets", "broker", "trade_stream"]),
                                                    ("inline", ["secrets", "broker"])])
def test_health_checks_in_order(settings, delivery, expected):
    settings.BROKER, settings.SIM_FILL_DELIVERY = "simulated", delivery
    assert [name for name, _ in wiring.health_checks()] == expected
    assert {"secrets", "broker"} <= set(health.registered_checks())


def test_demo_steps_in_order():
    assert [name for name, _ in wiring.DEMO_STEPS] == [
        "orders: account snapshot",
        "strategies: bundled market data and demo strategies",
        "risk limits",
        "demo market: warm start",
    ]
    assert demo.registered_demo_steps() == [name for name, _ in wiring.DEMO_STEPS]
