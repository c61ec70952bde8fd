"""Wiring: every pre-trade check, fill listener, the broker-request budget, beat entry, health check and
demo step, in order.

The lower layers own the mechanisms (``orders.pretrade``, ``orders.events``, ``trading_site.beat``,
``trading_site.health``, ``trading_site.demo``) and know nothing of who plugs into them; this module,
at the top of the layers (ADR 0029), is the one place that says what runs and in which order.
:func:`wire` runs once from :class:`ops.apps.OpsConfig` (the last installed app), in every process
(web, worker, beat, trade stream, commands). ``ops/tests/test_wiring.py`` pins the lists.
"""

from __future__ import annotations

from collections.abc import Callable

from celery.schedules import crontab
from django.conf import settings

from orders import events, pretrade
from orders import health as orders_health
from orders.conf import conf as orders_conf
from orders.reconcile import demo_snapshot
from risk import checks as risk_checks
from risk import services as risk_services
from tax import conf as tax_conf
from tax.pretrade import wash_sale_check
from tax.services import lots_apply_fill
from trading_site import beat, demo, health
from trading_site.lib import broker_budget, queues
from trading_site.secret_store.health import secrets_health
from workflow import schedules

# Pre-trade checks, run in this order by the one pipeline (orders.pretrade.run_checks); the first
# refusal stops the run. The kill switch and breakers first; the rate limits last, so an order
# refused by any other check uses no rate budget.
# The numbers leave room for a check between two others (tests register their own that way).
PRE_TRADE_CHECKS: tuple[tuple[str, pretrade.Check, int], ...] = (
    ("risk.controls", risk_checks.pretrade_controls, 10),
    ("wash_sale", wash_sale_check, 500),  # a no-op unless TAX_WASH_SALE_BLOCK is on
    ("risk.rate_limits", risk_checks.pretrade_rate_limits, 1000),
)

# Fill listeners, called in this order inside the fill's transaction (orders.events.fill_notify).
# (The day-trade counter reads the ledger's fills directly: orders.selectors.fills_between.)
FILL_LISTENERS: tuple[tuple[str, events.Listener], ...] = (
    ("tax_lots", lots_apply_fill),
)


# The broker-request budget: every Alpaca REST request of every process takes one request from the
# deployment's shared window first (reads yield to submissions), and every 429 pauses reads and counts
# toward the broker-errors breaker (risk/services.py, docs/CONCEPTS/risk-controls.md).
BROKER_BUDGET = (risk_services.broker_request_take, risk_services.broker_rate_limited_record)


def beat_entries() -> dict[str, dict]:
    """Every beat entry of this deployment (crontabs are read in CELERY_TIMEZONE = America/New_York)."""
    entries: dict[str, dict] = {
        "platform-heartbeat": beat.HEARTBEAT_ENTRY,
        "orders-reconcile": {
            "task": "orders.reconcile",
            "schedule": float(orders_conf.reconcile_every_seconds),
            "options": {"queue": queues.ORDERS, "expires": orders_conf.reconcile_every_seconds},
        },
        # The database is the schedule: every second the due slices are claimed and sent. A beat
        # message older than two seconds is dropped (the next one covers it) so none pile up.
        "orders-twap-dispatch": {
            "task": "orders.twap_dispatch",
            "schedule": 1.0,
            "options": {"queue": queues.TWAP, "expires": 2},
        },
    }
    if settings.BROKER == "simulated":
        entries["orders-sim-tick"] = {
            "task": "orders.sim_tick",
            "schedule": float(orders_conf.sim_tick_every_seconds),
            "options": {"queue": queues.ORDERS, "expires": orders_conf.sim_tick_every_seconds},
        }
    entries["risk-poll"] = {"task": "risk.poll", "schedule": 60.0, "options": {"queue": queues.RISK, "expires": 55}}
    entries["risk-dynamic-exits"] = {
        "task": "risk.dynamic_exits",
        "schedule": crontab(minute="*/5", hour="9-16", day_of_week="mon-fri"),
        "options": {"queue": queues.RISK, "expires": 240},
    }
    entries["tax-daily-blotter"] = {
        "task": "tax.blotter_daily",
        "schedule": crontab(hour=tax_conf.BLOTTER_HOUR, minute=tax_conf.BLOTTER_MINUTE, day_of_week="mon-fri"),
        "options": {"queue": queues.REPORTS, "expires": 6 * 3600},
    }
    entries["tax-monthly-compliance"] = {
        "task": "tax.compliance_monthly",
        "schedule": crontab(hour=6, minute=0, day_of_month="1"),
        "options": {"queue": queues.REPORTS, "expires": 12 * 3600},
    }
    # The daily workflow: market open, the rebalance before the close, the close report; in the demo
    # market's fast mode a frequent tick follows the demo clock instead (workflow/schedules.py).
    entries.update(schedules.ENTRIES)
    if getattr(settings, "DEMO_DAY_MINUTES", 0):
        entries["demo-day-tick"] = schedules.DEMO_FAST_ENTRY
    return entries


def health_checks() -> tuple[tuple[str, health.CheckFn], ...]:
    """/healthz checks beyond the database, cache, heartbeats and platform supervisor (trading_site.health)."""
    checks: list[tuple[str, health.CheckFn]] = [
        ("secrets", secrets_health),
        ("broker", orders_health.broker_health),
    ]
    # Fills stop reaching the ledger without the trade stream: checked where this deployment runs one.
    if orders_health.trade_stream_expected():
        checks.append(("trade_stream", orders_health.trade_stream_health))
    return tuple(checks)


def _demo_data_setup() -> str:
    # workflow.demo brings pandas (strategies): loaded only when a demo step runs, so every process
    # (web, worker, the tax commands) starts without it.
    from workflow.demo import demo_data_setup

    return demo_data_setup()


def _demo_warm_start() -> str:
    # as above: pandas only when the step runs
    from workflow.demo import demo_backfill

    return demo_backfill(log=print)


# Demo set-up steps of ``manage.py setup_demo`` (after the demo users), each idempotent, in order.
# The warm start trades, so it runs last, after the risk limits exist.
DEMO_STEPS: tuple[tuple[str, Callable[[], str | None]], ...] = (
    ("orders: account snapshot", demo_snapshot),
    ("strategies: bundled market data and demo strategies", _demo_data_setup),
    ("risk limits", risk_services.risk_defaults_ensure),
    ("demo market: warm start", _demo_warm_start),
)


def wire() -> None:
    """Plug everything above into the lower layers' hook points (idempotent)."""
    for name, check, order in PRE_TRADE_CHECKS:
        pretrade.register_check(name, check, order=order)
    for name, listener in FILL_LISTENERS:
        events.register_fill_listener(name, listener)
    take, rate_limited = BROKER_BUDGET
    broker_budget.register(take=lambda kind: take(kind=kind), rate_limited=rate_limited)
    for name, entry in beat_entries().items():
        beat.register(name, entry)
    for name, check in health_checks():
        health.register_check(name, check)
    for name, step in DEMO_STEPS:
        demo.register_demo_step(name, step)
