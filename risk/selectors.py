"""Reads of the risk app for views, the API, the console and other apps.

``kill_switch_engaged()`` is what the strategies/workflow code calls before generating signals and
what TWAP dispatch can call before each slice (the gateway checks it again on every order).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from marketdata import market_clock
from risk import conf, limiter
from risk.account_monitor import account_status
from risk.checks import BROKER_RATE_KEY, ORDER_RATE_KEY, rollout_enforced
from risk.models import CircuitBreaker, EquityWatermark, KillSwitch, KillSwitchEvent, RiskEvent, RolloutPhase
from risk.state import PhaseData, risk_state
from trading_site.lib import clock


def kill_switch_engaged() -> bool:
    """Fast (cached) answer: is the kill switch engaged?"""
    return risk_state().kill_switch_engaged


def breaker_open(*, name: str | None = None) -> bool:
    """Is any breaker (or the named one) tripped?"""
    open_ = risk_state().open_breakers
    return bool(open_) if name is None else name in open_


def kill_switch_status() -> dict:
    row = KillSwitch.objects.select_related("changed_by").filter(pk=1).first()
    history = [
        {
            "action": e.action,
            "at": e.created_at.isoformat(),
            "by": e.actor.get_username() if e.actor_id else "system",
            "reason": e.reason,
        }
        for e in KillSwitchEvent.objects.select_related("actor")[:10]
    ]
    return {
        "engaged": bool(row and row.engaged),
        "changed_at": row.changed_at.isoformat() if row and row.changed_at else None,
        "changed_by": row.changed_by.get_username() if row and row.changed_by_id else None,
        "reason": row.reason if row else "",
        "history": history,
    }


def breakers_status() -> list[dict]:
    rows = {b.name: b for b in CircuitBreaker.objects.select_related("reset_by")}
    result = []
    for name in CircuitBreaker.Name.values:
        row = rows.get(name)
        result.append(
            {
                "name": name,
                "state": row.state if row else CircuitBreaker.State.CLOSED,
                "tripped_at": row.tripped_at.isoformat() if row and row.tripped_at else None,
                "trip_reason": row.trip_reason if row else "",
                "reset_at": row.reset_at.isoformat() if row and row.reset_at else None,
                "reset_by": row.reset_by.get_username() if row and row.reset_by_id else None,
            }
        )
    return result


def last_kill_switch_test() -> dt.datetime | None:
    """When the switch was last reset after being engaged (an engage-and-reset cycle is a test)."""
    reset = KillSwitchEvent.objects.filter(action=KillSwitchEvent.Action.RESET).order_by("-created_at").first()
    return reset.created_at if reset else None


def limits_usage(*, now: dt.datetime | None = None) -> dict:
    now = now or clock.now()
    state = risk_state()
    return {
        "orders_last_minute": limiter.count(name=ORDER_RATE_KEY, now=now, window=conf.RATE_WINDOW_SECONDS),
        "orders_per_minute": state.limits.orders_per_minute,
        "broker_requests_last_minute": limiter.count(name=BROKER_RATE_KEY, now=now, window=conf.RATE_WINDOW_SECONDS),
        "broker_requests_per_minute": state.limits.broker_requests_per_minute,
    }


def rollout_status() -> dict:
    state = risk_state()
    phases = [
        {"number": p.number, "name": p.name, "capital_cap": str(p.capital_cap), "symbols": p.symbols or "full universe"}
        for p in RolloutPhase.objects.all()
    ]
    return {
        "phase": state.limits.rollout_phase,
        "enforced": rollout_enforced(limits=state.limits),
        "on_paper": state.limits.rollout_on_paper,
        "live": settings.BROKER == "alpaca" and not settings.ALPACA_PAPER,
        "phases": phases,
    }


def equity_watermark() -> dict | None:
    mark = EquityWatermark.objects.filter(pk=1).first()
    if mark is None:
        return None
    return {
        "session": mark.session.isoformat(),
        "start_of_day_equity": str(mark.start_of_day_equity),
        "peak_equity": str(mark.peak_equity),
        "last_equity": str(mark.last_equity),
        "updated_at": mark.updated_at.isoformat(),
    }


def risk_events_recent(*, limit: int = 20) -> list[RiskEvent]:
    return list(RiskEvent.objects.select_related("actor")[:limit])


def limits_current() -> dict:
    """The risk limits as JSON values (Decimals as strings)."""
    from dataclasses import asdict

    limits = risk_state().limits
    result = {k: (str(v) if v is not None and not isinstance(v, bool | int | tuple) else v)
              for k, v in asdict(limits).items()}
    result["symbol_denylist"] = list(limits.symbol_denylist)
    return result


def status_report(*, now: dt.datetime | None = None) -> dict:
    """Everything the status API and the console's risk page show."""

    now = now or clock.now()
    return {
        "time": now.isoformat(),
        "kill_switch": kill_switch_status(),
        "breakers": breakers_status(),
        "equity": equity_watermark(),
        "limits": limits_current(),
        "usage": limits_usage(now=now),
        "rollout": rollout_status(),
        "market_clock": market_clock.clock_status(now),
        "account": account_status(now=now),
        "events": [
            {"at": e.created_at.isoformat(), "kind": e.kind, "subject": e.subject, "reason": e.reason,
             "by": e.actor.get_username() if e.actor_id else "system"}
            for e in risk_events_recent(limit=10)
        ],
    }


def rollout_phase_enforced() -> PhaseData | None:
    """The rollout phase orders are checked against now (None when the rollout is not enforced).
    The rebalance sizes its targets to it, so the gateway's rollout check passes them."""

    state = risk_state()
    return state.phase if rollout_enforced(limits=state.limits) else None


def order_rate_full(*, now: dt.datetime | None = None) -> bool:
    """True while the orders-per-minute or broker-requests-per-minute window is full: an order sent
    now would be refused (ORDER_RATE/BROKER_RATE). A caller with many orders waits instead."""
    usage = limits_usage(now=now)
    return (usage["orders_last_minute"] >= usage["orders_per_minute"]
            or usage["broker_requests_last_minute"] >= usage["broker_requests_per_minute"])
