"""Read models of ``manage.py monitor``: plain dicts of JSON primitives, one type per field.

JSON types (docs/RUNBOOKS/common-scenarios.md, "monitor --json"): money is a string in cents
(``"98440.00"``, ``"-3.06"``), quantities and prices are strings in plain notation without trailing
zeros (``"10"``, ``"0"``, ``"0.5"``, ``"187.25"`` — never ``"0E-9"``), ratios (returns, drawdown,
Sharpe) are numbers, times ISO 8601 strings, and an unknown value is ``null`` in every field.

Selectors only — nothing here writes. Each view is one function the command renders as rich tables
or prints as JSON, so the JSON a script reads is exactly what the table shows:

- :func:`monitor_status`: the live account (``orders.selectors.account_live``, as
  ``GET /api/v1/account/`` and the console's dashboard: cash, equity, day and total P&L), positions
  (as ``GET /api/v1/positions/``), gross exposure, kill switch, breakers, rollout phase, open
  orders, heartbeats, unacknowledged alerts.
- :func:`monitor_positions`, :func:`monitor_orders`.
- :func:`monitor_performance`: the equity curve from ``orders.AccountSnapshot`` (the last snapshot of
  each New York date) with daily P&L, cumulative return and drawdown, computed by
  ``workflow.performance`` so the terminal shows the same figures as the API and the console.
- :func:`monitor_logs`: the platform keeps no log file store (logs go to stdout/stderr, JSON with
  ``LOG_FORMAT=json``, for the process supervisor or a log aggregator), so "logs" are the recent
  :class:`~trading_site.models.ActionLog` entries and alerts, merged newest first.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from orders import selectors as order_selectors
from risk import selectors as risk_selectors
from trading_site.lib import clock
from trading_site.lib.money import CENT
from trading_site.models import ActionLog, Alert, Heartbeat
from workflow.performance import performance_summary

NEW_YORK = ZoneInfo("America/New_York")


def json_money(value: Decimal | float | None) -> str | None:
    """Money in canonical form: a string in cents (``"-3.06"``, ``"0.00"``), None when unknown."""
    if value is None:
        return None
    cents = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)  # rounded as the console shows money
    return str(cents if cents else abs(cents))  # never "-0.00"


def json_qty(value: Decimal | None) -> str | None:
    """A quantity or price in canonical form: plain notation, no trailing zeros (``"0"``, ``"0.5"``)."""
    if value is None:
        return None
    value = Decimal(value)
    return "0" if not value else format(value.normalize(), "f")


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _position(p: order_selectors.PositionData) -> dict:
    return {
        "symbol": p.symbol,
        "qty": json_qty(p.qty),
        "avg_cost": json_qty(p.avg_cost),
        "last_price": json_qty(p.last_price),
        "market_value": json_money(p.market_value),
        "unrealized_pnl": json_money(p.unrealized_pnl),
        "realized_pnl": json_money(p.realized_pnl),
    }


def monitor_positions() -> list[dict]:
    """Open positions with last price, market value and P&L (the positions API's figures)."""
    return [_position(p) for p in order_selectors.positions_list()]


def _account(*, now: dt.datetime) -> dict | None:
    """The live account: the same figures as ``GET /api/v1/account/`` and the dashboard."""
    account = order_selectors.account_live(now=now)
    if account is None:
        return None
    return {
        "time": _iso(account.time),
        "snapshot_time": _iso(account.snapshot_time),
        "equity": json_money(account.equity),
        "cash": json_money(account.cash),
        "buying_power": json_money(account.buying_power),
        "long_market_value": json_money(account.long_market_value),
        "short_market_value": json_money(account.short_market_value),
        "realized_pnl": json_money(account.realized_pnl),
        "unrealized_pnl": json_money(account.unrealized_pnl),
        "total_pnl": json_money(account.total_pnl),
        "day_pnl": json_money(account.day_pnl),
        "day_reference_equity": json_money(account.day_reference_equity),
    }


def _heartbeats(now: dt.datetime) -> list[dict]:
    return [
        {"name": hb.name, "seen_at": _iso(hb.seen_at), "age_seconds": round((now - hb.seen_at).total_seconds(), 1)}
        for hb in Heartbeat.objects.order_by("name")
    ]


def _alert(a: Alert) -> dict:
    return {
        "id": a.pk,
        "created_at": _iso(a.created_at),
        "severity": a.severity,
        "source": a.source,
        "metric": a.metric,
        "message": a.message,
        "acknowledged": a.acknowledged_at is not None,
    }


def alerts_open(*, limit: int = 10) -> list[dict]:
    return [_alert(a) for a in Alert.objects.filter(acknowledged_at__isnull=True)[:limit]]


def monitor_status(*, now: dt.datetime | None = None, alert_limit: int = 10) -> dict:
    """The one-screen overview: account, positions, risk state, processes and open alerts."""
    now = now or clock.now()
    kill = risk_selectors.kill_switch_status()
    rollout = risk_selectors.rollout_status()
    return {
        "time": _iso(now),
        "account": _account(now=now),
        "positions": monitor_positions(),
        "gross_exposure": json_money(order_selectors.gross_exposure()),
        "open_orders": order_selectors.orders_open().count(),
        "kill_switch": {
            "engaged": kill["engaged"],
            "changed_at": kill["changed_at"],
            "changed_by": kill["changed_by"],
            "reason": kill["reason"],
        },
        "breakers": [
            {"name": b["name"], "state": b["state"], "tripped_at": b["tripped_at"], "trip_reason": b["trip_reason"]}
            for b in risk_selectors.breakers_status()
        ],
        "rollout": {"phase": rollout["phase"], "enforced": rollout["enforced"], "live": rollout["live"]},
        "heartbeats": _heartbeats(now),
        "alerts": alerts_open(limit=alert_limit),
    }


def monitor_orders(*, limit: int = 20, status: str | None = None, symbol: str | None = None) -> list[dict]:
    """The most recent orders (newest first), optionally one status or symbol."""
    rows = list(order_selectors.orders_list(status=status, symbol=symbol)[:limit])
    # A TWAP parent's own filled quantity stays 0: its children's fills are its fills (one query).
    parents = order_selectors.twap_parents().filter(pk__in=[o.pk for o in rows])
    aggregate = {p.pk: (p.agg_filled_qty, p.agg_avg_fill_price) for p in parents}
    out = []
    for o in rows:
        filled, avg = aggregate.get(o.pk, (o.filled_qty, o.avg_fill_price))
        out.append({
            "id": o.pk,
            "created_at": _iso(o.created_at),
            "symbol": o.symbol,
            "side": o.side,
            "type": o.order_type,
            "qty": json_qty(o.qty),
            "limit_price": json_qty(o.limit_price),
            "status": o.status,
            "filled_qty": json_qty(filled),
            "avg_fill_price": json_qty(None if avg is None else avg.quantize(Decimal("0.000001"))),
            "source": o.source,
            "reject_code": o.reject_code,
            "client_order_id": o.client_order_id,
        })
    return out


def monitor_performance(*, days: int = 30, now: dt.datetime | None = None) -> dict:
    """Equity curve and summary over the last ``days`` calendar days (New York dates, today included).

    The figures are workflow.performance's (the same the API and the console show): the last account
    snapshot of each New York date; daily P&L, cumulative return and drawdown per day; total return,
    CAGR, volatility, Sharpe, Sortino and max drawdown over the window.
    """

    if days < 1:
        raise ValueError("days must be at least 1")
    now = now or clock.now()
    end = now.astimezone(NEW_YORK).date()
    start = end - dt.timedelta(days=days - 1)
    report = performance_summary(start=start, end=end)
    m = report["metrics"]
    change = None
    if m["start_equity"] is not None and m["end_equity"] is not None:
        change = Decimal(str(m["end_equity"])) - Decimal(str(m["start_equity"]))
    pnl = order_selectors.ledger_pnl()
    summary = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "trading_days": len(report["days"]),
        "start_equity": json_money(m["start_equity"]),
        "end_equity": json_money(m["end_equity"]),
        "equity_change": json_money(change),
        "realized_pnl": json_money(pnl.realized_pnl),
        "unrealized_pnl": json_money(pnl.unrealized_pnl),
        "total_pnl": json_money(pnl.total_pnl),
        "total_return": m["total_return"],
        "cagr": m["cagr"],
        "volatility": m["volatility"],
        "sharpe": m["sharpe"],
        "sortino": m["sortino"],
        "max_drawdown": m["max_drawdown"],
        "trades": m["trades"],
        "commissions": json_money(m["commissions"]),
    }
    curve = [
        {
            "date": d["date"],
            "equity": json_money(d["equity"]),
            "daily_pnl": json_money(d["pnl"]),
            "cumulative_return": d["cumulative_return"],
            "drawdown": d["drawdown"],
        }
        for d in report["days"]
    ]
    return {"time": _iso(now), "window_days": days, "summary": summary, "curve": curve}


def monitor_logs(*, limit: int = 30) -> dict:
    """Recent actions (ActionLog) and alerts merged newest first; there is no log file store."""
    actions = [
        {
            "kind": "action",
            "at": _iso(a.created_at),
            "who": a.actor.get_username() if a.actor_id else "system",
            "what": a.action,
            "target": f"{a.object_type}:{a.object_id}" if a.object_type else "",
            "reason": a.reason,
            "severity": "",
        }
        for a in ActionLog.objects.select_related("actor")[:limit]
    ]
    alerts = [
        {
            "kind": "alert",
            "at": _iso(a.created_at),
            "who": a.source,
            "what": a.metric or "alert",
            "target": "",
            "reason": a.message,
            "severity": a.severity,
            "acknowledged": a.acknowledged_at is not None,
        }
        for a in Alert.objects.all()[:limit]
    ]
    entries = sorted(actions + alerts, key=lambda e: e["at"], reverse=True)[:limit]
    return {"time": _iso(clock.now()), "entries": entries}
