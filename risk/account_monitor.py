"""Account monitor: buying power, cash versus margin, shorting, market clock, day-trading rules.

Reads the latest account snapshot the orders app keeps (``orders.selectors.account_latest``) and the
market clock; evaluates the legacy PDT counter when the rule is enabled and raises one warning alert
per session before the fourth day trade (``pdt_check``, run by the risk poll).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from marketdata import market_clock
from orders.selectors import fills_between
from risk import orders_port
from risk.models import RiskEvent
from risk.pdt import WINDOW_SESSIONS, Fill, PdtStatus, pdt_evaluate
from risk.state import risk_state
from trading_site.alerts import alert_raise
from trading_site.lib import clock


def pdt_status(*, now: dt.datetime, equity: Decimal) -> PdtStatus:
    session = market_clock.current_or_previous_session(now)
    window = market_clock.sessions_window(ending=session, count=WINDOW_SESSIONS)
    # The ledger's own fills (no copy of them): sessions are New York trading dates.
    start = dt.datetime.combine(window[0], dt.time.min, tzinfo=clock.NEW_YORK)
    end = dt.datetime.combine(window[-1] + dt.timedelta(days=1), dt.time.min, tzinfo=clock.NEW_YORK)
    fills = [
        Fill(session=f.executed_at.astimezone(clock.NEW_YORK).date(), symbol=f.symbol.upper(), side=f.side,
             executed_at=f.executed_at)
        for f in fills_between(start=start, end=end)
    ]
    return pdt_evaluate(
        fills=fills, window=window, equity=equity, equity_threshold=risk_state().limits.pdt_equity_threshold
    )


def account_status(*, now: dt.datetime | None = None) -> dict:
    now = now or clock.now()
    limits = risk_state().limits
    account = orders_port.account(fresh=True)
    result: dict = {"available": account is not None, "pdt_rule_enabled": limits.pdt_rule_enabled}
    if account is None:
        return result
    result |= {
        "status": account.status,
        "equity": str(account.equity),
        "cash": str(account.cash),
        "buying_power": str(account.buying_power),
        "multiplier": None if account.multiplier is None else str(account.multiplier),
        "account_type": None if account.multiplier is None else ("margin" if account.multiplier > 1 else "cash"),
        "shorting_enabled": account.shorting_enabled,
    }
    if limits.pdt_rule_enabled:
        status = pdt_status(now=now, equity=account.equity)
        result["pdt"] = {
            "day_trades": status.day_trades,
            "total_trades": status.total_trades,
            "window": [d.isoformat() for d in status.window],
            "flagged": status.flagged,
            "restricted": status.restricted,
            "warn": status.warn,
            "day_trades_left": status.day_trades_left,
        }
    return result


@transaction.atomic
def pdt_check(*, now: dt.datetime | None = None) -> PdtStatus | None:
    """Warn (once per session) before the 4th day trade, and alert when the account is flagged."""
    now = now or clock.now()
    if not risk_state().limits.pdt_rule_enabled:
        return None
    account = orders_port.account(fresh=True)
    if account is None:
        return None
    status = pdt_status(now=now, equity=account.equity)
    if not (status.warn or status.restricted):
        return status
    session = market_clock.current_or_previous_session(now)
    subject = f"pdt {session.isoformat()}"
    if RiskEvent.objects.filter(kind=RiskEvent.Kind.PDT_WARNING, subject=subject).exists():
        return status
    message = (
        f"Pattern day trader: {status.day_trades} day trades in 5 sessions with equity {account.equity} "
        "under the threshold; trading is restricted."
        if status.restricted
        else f"{status.day_trades} day trades in the last 5 sessions: the next one flags the account as a "
        "pattern day trader (equity under the threshold)."
    )
    RiskEvent.objects.create(created_at=now, kind=RiskEvent.Kind.PDT_WARNING, subject=subject, reason=message,
                             data={"day_trades": status.day_trades, "total_trades": status.total_trades})
    alert_raise(source="risk", metric="pdt", message=message, data={"day_trades": status.day_trades})
    return status
