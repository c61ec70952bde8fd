"""Thin Celery tasks of the risk app (beat: risk poll every minute, dynamic exits every 5 minutes)."""

from __future__ import annotations

from celery import shared_task

from marketdata import market_clock
from risk import orders_port, services
from risk.account_monitor import pdt_check
from risk.exits import exits_evaluate
from risk.selectors import kill_switch_engaged
from trading_site.lib import clock


@shared_task(name="risk.poll", soft_time_limit=45, time_limit=55)
def risk_poll() -> dict:
    """Feed the loss breakers with the latest equity, check data staleness and the PDT counter."""

    now = clock.now()
    result: dict = {}
    account = orders_port.account(fresh=True)
    if account is not None and account.equity > 0:
        check = services.equity_observe(equity=account.equity, now=now)
        result["daily_loss_pct"] = str(check.daily_loss_pct)
        result["drawdown_pct"] = str(check.drawdown_pct)
    result["stale_data_tripped"] = services.stale_data_check(now=now)
    result["broker_errors_tripped"] = services.broker_errors_scan(now=now)
    pdt = pdt_check(now=now)
    result["pdt_day_trades"] = pdt.day_trades if pdt else None
    return result


@shared_task(name="risk.dynamic_exits", soft_time_limit=240, time_limit=280)
def dynamic_exits() -> list[dict]:
    now = clock.now()
    if not market_clock.market_open_for_orders(now):
        return []
    return exits_evaluate(now=now)


@shared_task(name="risk.kill_switch_unwind", soft_time_limit=240, time_limit=280)
def kill_switch_unwind(*, reason: str, flatten: bool) -> dict:
    """Retry the unwind (cancel and flatten) when the kill switch is still engaged."""

    if not kill_switch_engaged():
        return {"skipped": "kill switch not engaged"}
    result = services.kill_switch_unwind(actor=None, reason=reason, flatten=flatten)
    return {"cancelled": result.cancelled, "flatten_orders": result.flatten_orders, "errors": result.errors}
