"""Read models of ``manage.py monitor``: plain dicts of JSON primitives (Decimals as strings).

Selectors only — nothing here writes. Each view is one function the command renders as rich tables
or prints as JSON, so the JSON a script reads is exactly what the table shows:

- :func:`monitor_status`: account (the latest snapshot, as ``GET /api/v1/account/``), positions (as
  ``GET /api/v1/positions/``), gross exposure, day P&L against the risk watermark, kill switch,
  breakers, rollout phase, open orders, heartbeats, unacknowledged alerts.
- :func:`monitor_positions`, :func:`monitor_orders`.
- :func:`monitor_performance`: the equity curve from ``orders.AccountSnapshot`` (the last snapshot of
  each New York date) with daily P&L, cumulative return and drawdown, computed by
  ``strategies.performance`` so the terminal shows the same figures as the API and the console.
- :func:`monitor_logs`: the platform keeps no log file store (logs go to stdout/stderr, JSON with
  ``LOG_FORMAT=json``, for the process supervisor or a log aggregator), so "logs" are the recent
  :class:`~trading_site.models.ActionLog` entries and alerts, merged newest first.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from orders import selectors as order_selectors
from risk import market_clock
from risk import selectors as risk_selectors
from trading_site.lib import clock
from trading_site.models import ActionLog, Alert, Heartbeat

NEW_YORK = ZoneInfo("America/New_York")


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _position(p: order_selectors.PositionData) -> dict:
    return {
        "symbol": p.symbol,
        "qty": _s(p.qty),
        "avg_cost": _s(p.avg_cost),
        "last_price": _s(p.last_price),
        "market_value": _s(p.market_value),
        "unrealized_pnl": _s(p.unrealized_pnl),
        "realized_pnl": _s(p.realized_pnl),
    }


def monitor_positions() -> list[dict]:
    """Open positions with last price, market value and P&L (the positions API's figures)."""
    return [_position(p) for p in order_selectors.positions_list()]


def _account(*, now: dt.datetime) -> dict | None:
    """The latest snapshot; day P&L against the risk watermark's start-of-day equity of *this* session
    (the breaker poll sets it at the session's first observation; an older watermark gives no day P&L)."""
    account = order_selectors.account_latest()
    if account is None:
        return None
    watermark = risk_selectors.equity_watermark()
    if watermark is not None and watermark["session"] != market_clock.current_or_previous_session(now).isoformat():
        watermark = None
    day_pnl = None if watermark is None else account.equity - Decimal(watermark["start_of_day_equity"])
    return {
        "time": _iso(account.time),
        "equity": _s(account.equity),
        "cash": _s(account.cash),
        "buying_power": _s(account.buying_power),
        "long_market_value": _s(account.long_market_value),
        "short_market_value": _s(account.short_market_value),
        "day_pnl": _s(day_pnl),
        "start_of_day_equity": watermark["start_of_day_equity"] if watermark else None,
        "peak_equity": watermark["peak_equity"] if watermark else None,
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
        "gross_exposure": _s(order_selectors.gross_exposure()),
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
    rows = order_selectors.orders_list(status=status, symbol=symbol)[:limit]
    return [
        {
            "id": o.pk,
            "created_at": _iso(o.created_at),
            "symbol": o.symbol,
            "side": o.side,
            "type": o.order_type,
            "qty": _s(o.qty),
            "limit_price": _s(o.limit_price),
            "status": o.status,
            "filled_qty": _s(o.filled_qty),
            "avg_fill_price": _s(o.avg_fill_price),
            "source": o.source,
            "reject_code": o.reject_code,
            "client_order_id": o.client_order_id,
        }
        for o in rows
    ]


def monitor_performance(*, days: int = 30, now: dt.datetime | None = None) -> dict:
    """Equity curve and summary over the last ``days`` calendar days (New York dates, today included).

    The figures are strategies.performance's (the same the API and the console show): the last account
    snapshot of each New York date; daily P&L, cumulative return and drawdown per day; total return,
    CAGR, volatility, Sharpe, Sortino and max drawdown over the window.
    """
    from strategies.performance import performance_summary

    if days < 1:
        raise ValueError("days must be at least 1")
    now = now or clock.now()
    end = now.astimezone(NEW_YORK).date()
    start = end - dt.timedelta(days=days - 1)
    report = performance_summary(start=start, end=end)
    m = report["metrics"]
    total_pnl = None
    if m["start_equity"] is not None and m["end_equity"] is not None:
        total_pnl = round(m["end_equity"] - m["start_equity"], 2)
    summary = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "trading_days": len(report["days"]),
        "start_equity": m["start_equity"],
        "end_equity": m["end_equity"],
        "total_pnl": total_pnl,
        "total_return": m["total_return"],
        "cagr": m["cagr"],
        "volatility": m["volatility"],
        "sharpe": m["sharpe"],
        "sortino": m["sortino"],
        "max_drawdown": m["max_drawdown"],
        "trades": m["trades"],
        "commissions": m["commissions"],
    }
    curve = [
        {
            "date": d["date"],
            "equity": d["equity"],
            "daily_pnl": d["pnl"],
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
