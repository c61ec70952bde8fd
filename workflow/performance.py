"""Performance tracking: daily P&L, equity curve, returns, drawdown, risk-adjusted ratios.

Definitions (docs/CONCEPTS/performance-metrics.md has worked examples). ``E_t`` is the end-of-day
equity of trading day ``t``; ``r_t = E_t / E_{t-1} − 1`` the simple daily return; ``N = 252``
trading days a year; ``rf_d = (1 + RISK_FREE_RATE)^(1/252) − 1`` the daily risk-free rate.

- daily P&L: ``E_t − E_{t-1}``; cumulative return: ``E_t / E_0 − 1``;
- total return: ``E_T / E_0 − 1``; CAGR: ``(E_T / E_0)^(N / n) − 1`` with ``n`` the number of daily
  returns (trading-day annualisation, not calendar years);
- annualised volatility: sample standard deviation of ``r`` (ddof = 1) × √N;
- Sharpe: ``mean(r − rf_d) / std(r − rf_d) × √N`` (ddof = 1);
- Sortino: ``mean(r − rf_d) / DD × √N`` with downside deviation ``DD = √(mean(min(r − rf_d, 0)²))``
  over all days (the same convention as empyrical);
- drawdown: ``E_t / max_{s≤t} E_s − 1``; max drawdown: its minimum (≤ 0);
- rolling Sharpe (window ``w`` days): Sharpe over the last ``w`` returns;
- turnover: Σ |traded notional| / 2 / average equity, per year (``× N / n``) — the fraction of the
  book replaced per year.

All functions here are pure (pandas in, floats out) except :func:`daily_report_record` and the
selectors used by the API.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy as np
import pandas as pd

from orders.models import AccountSnapshot, Fill
from trading_site.lib import clock
from workflow import conf
from workflow.models import DailyPerformance

TRADING_DAYS = 252


def daily_risk_free(rate: float | None = None) -> float:
    annual = conf.RISK_FREE_RATE if rate is None else rate
    return (1.0 + annual) ** (1.0 / TRADING_DAYS) - 1.0


def returns_of(equity: pd.Series) -> pd.Series:
    """Simple daily returns of an equity curve (the first day has none)."""
    return equity.astype(float).pct_change().iloc[1:]


def drawdown_series(equity: pd.Series) -> pd.Series:
    values = equity.astype(float)
    return values / values.cummax() - 1.0


def _nan_to_none(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def sharpe_ratio(returns: pd.Series, *, risk_free: float | None = None) -> float:
    excess = returns.astype(float) - daily_risk_free(risk_free)
    std = excess.std(ddof=1)
    if len(excess) < 2 or not std or not math.isfinite(std):
        return math.nan
    return float(excess.mean() / std * math.sqrt(TRADING_DAYS))


def sortino_ratio(returns: pd.Series, *, risk_free: float | None = None) -> float:
    excess = returns.astype(float) - daily_risk_free(risk_free)
    if len(excess) < 2:
        return math.nan
    downside = math.sqrt(float((np.minimum(excess.to_numpy(), 0.0) ** 2).mean()))
    if downside == 0:
        return math.nan
    return float(excess.mean() / downside * math.sqrt(TRADING_DAYS))


def rolling_sharpe(returns: pd.Series, *, window: int = 63, risk_free: float | None = None) -> pd.Series:
    excess = returns.astype(float) - daily_risk_free(risk_free)
    roll = excess.rolling(window, min_periods=window)
    return roll.mean() / roll.std(ddof=1) * math.sqrt(TRADING_DAYS)


def metrics_compute(
    *, equity: pd.Series, traded_notional: Decimal | float = 0, commissions: Decimal | float = 0, trades: int = 0,
    risk_free: float | None = None,
) -> dict:
    """Summary metrics of an equity curve (index: dates, ascending)."""
    equity = equity.astype(float)
    n = max(len(equity) - 1, 0)
    returns = returns_of(equity)
    first, last = (float(equity.iloc[0]), float(equity.iloc[-1])) if len(equity) else (math.nan, math.nan)
    total = last / first - 1.0 if first else math.nan
    cagr = (last / first) ** (TRADING_DAYS / n) - 1.0 if n and first > 0 and last > 0 else math.nan
    vol = float(returns.std(ddof=1) * math.sqrt(TRADING_DAYS)) if n >= 2 else math.nan
    mdd = float(drawdown_series(equity).min()) if len(equity) else math.nan
    avg_equity = float(equity.mean()) if len(equity) else math.nan
    turnover = float(traded_notional) / 2.0 / avg_equity * TRADING_DAYS / n if n and avg_equity else math.nan
    return {
        "start_equity": _nan_to_none(first),
        "end_equity": _nan_to_none(last),
        "days": n,
        "total_return": _nan_to_none(total),
        "cagr": _nan_to_none(cagr),
        "volatility": _nan_to_none(vol),
        "sharpe": _nan_to_none(sharpe_ratio(returns, risk_free=risk_free)),
        "sortino": _nan_to_none(sortino_ratio(returns, risk_free=risk_free)),
        "max_drawdown": _nan_to_none(mdd),
        "turnover": _nan_to_none(turnover),
        "commissions": float(commissions),
        "trades": int(trades),
    }


def curve_frame(equity: pd.Series, *, window: int = 63) -> pd.DataFrame:
    """Per day: equity, daily P&L, daily return, cumulative return, drawdown, rolling Sharpe."""
    values = equity.astype(float)
    returns = values.pct_change()
    return pd.DataFrame(
        {
            "equity": values,
            "pnl": values.diff(),
            "daily_return": returns,
            "cumulative_return": values / values.iloc[0] - 1.0 if len(values) else values,
            "drawdown": drawdown_series(values),
            "rolling_sharpe": rolling_sharpe(returns.iloc[1:], window=window).reindex(values.index),
        }
    )


# --- the stored daily report ---------------------------------------------------------------------------


def daily_report_record(
    *, day: dt.date, equity: Decimal, cash: Decimal, positions: int, orders_filled: int, orders_canceled: int
):
    """Store (or replace) the market-close report of ``day``; P&L and returns against earlier reports."""

    previous = DailyPerformance.objects.filter(day__lt=day).order_by("-day").first()
    first = DailyPerformance.objects.filter(day__lt=day).order_by("day").values_list("equity", flat=True).first()
    peak = max([equity, *DailyPerformance.objects.filter(day__lt=day).values_list("equity", flat=True)])
    base = first if first is not None else equity
    pnl = equity - previous.equity if previous else Decimal(0)
    report, _ = DailyPerformance.objects.update_or_create(
        day=day,
        defaults={
            "equity": equity,
            "cash": cash,
            "pnl": pnl,
            "daily_return": float(equity / previous.equity - 1) if previous and previous.equity else None,
            "cumulative_return": float(equity / base - 1) if base else None,
            "drawdown": float(equity / peak - 1) if peak else None,
            "positions": positions,
            "orders_filled": orders_filled,
            "orders_canceled": orders_canceled,
            "created_at": clock.now(),
        },
    )
    return report


def equity_curve(*, start: dt.date | None = None, end: dt.date | None = None) -> pd.Series:
    """The live equity curve: the last account snapshot of each New York day."""

    qs = AccountSnapshot.objects.order_by("time", "pk")
    if start:
        qs = qs.filter(time__gte=dt.datetime.combine(start, dt.time(0), tzinfo=clock.NEW_YORK))
    if end:
        qs = qs.filter(time__lt=dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=clock.NEW_YORK))
    by_day: dict[dt.date, Decimal] = {}
    for time_, equity in qs.values_list("time", "equity"):
        by_day[time_.astimezone(clock.NEW_YORK).date()] = equity
    return pd.Series({pd.Timestamp(d): float(e) for d, e in by_day.items()}, dtype=float)


def performance_summary(*, start: dt.date | None = None, end: dt.date | None = None, window: int = 63) -> dict:
    """What the API, the console and the CLI monitor show: metrics and the per-day curve."""
    from django.db.models import Count, DecimalField, F, Sum

    equity = equity_curve(start=start, end=end)
    fills = Fill.objects.all()
    if len(equity):
        # The fills of the curve's New York days, first to last inclusive: turnover and commissions
        # cover the same period as the returns.
        first_day, last_day = equity.index[0].date(), equity.index[-1].date()
        fills = fills.filter(
            executed_at__gte=dt.datetime.combine(first_day, dt.time(0), tzinfo=clock.NEW_YORK),
            executed_at__lt=dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tzinfo=clock.NEW_YORK),
        )
    # one aggregate query instead of loading every fill
    totals = fills.aggregate(
        traded=Sum(F("qty") * F("price"), output_field=DecimalField()), commissions=Sum("commission"), trades=Count("id")
    )
    metrics = metrics_compute(
        equity=equity,
        traded_notional=totals["traded"] or Decimal(0),
        commissions=totals["commissions"] or Decimal(0),
        trades=totals["trades"],
    )
    frame = curve_frame(equity, window=window) if len(equity) else pd.DataFrame()
    days = [
        {
            "date": ts.date().isoformat(),
            "equity": round(row.equity, 2),
            "pnl": _nan_to_none(row.pnl),
            "cumulative_return": _nan_to_none(row.cumulative_return),
            "drawdown": _nan_to_none(row.drawdown),
            "rolling_sharpe": _nan_to_none(row.rolling_sharpe),
        }
        for ts, row in frame.iterrows()
    ]
    return {"metrics": metrics, "risk_free_rate": conf.RISK_FREE_RATE, "rolling_window": window, "days": days}
