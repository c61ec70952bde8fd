"""Performance metrics: hand-worked examples, and a cross-check against empyrical on the same curve."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from workflow.models import DailyPerformance
from workflow.performance import (
    curve_frame,
    daily_report_record,
    daily_risk_free,
    metrics_compute,
    rolling_sharpe,
    sharpe_ratio,
    sortino_ratio,
)

SQRT252 = math.sqrt(252)


def curve(values) -> pd.Series:
    return pd.Series(values, index=pd.bdate_range("2024-01-02", periods=len(values)), dtype=float)


def test_hand_worked_example_up_down_up():
    # given equity 100 → 110 → 99 → 108.9: daily returns +10 %, −10 %, +10 %
    m = metrics_compute(equity=curve([100, 110, 99, 108.9]), risk_free=0.0)
    # mean = 1/30, sample std = √(0.02667/2) = 0.115470, downside deviation = √(0.01/3) = 0.057735
    assert m["total_return"] == pytest.approx(0.089)
    assert m["cagr"] == pytest.approx(1.089 ** (252 / 3) - 1)
    assert m["volatility"] == pytest.approx(0.1154700538 * SQRT252)
    assert m["sharpe"] == pytest.approx((1 / 30) / 0.1154700538 * SQRT252)  # 4.582576
    assert m["sharpe"] == pytest.approx(4.582576, abs=1e-6)
    assert m["sortino"] == pytest.approx(9.165151, abs=1e-6)
    assert m["max_drawdown"] == pytest.approx(-0.1)
    frame = curve_frame(curve([100, 110, 99, 108.9]))
    assert frame["pnl"].iloc[1:].round(9).tolist() == [10.0, -11.0, 9.9]
    assert frame["drawdown"].round(9).tolist() == [0.0, 0.0, -0.1, -0.01]
    assert frame["cumulative_return"].round(9).tolist() == [0.0, 0.1, -0.01, 0.089]


def test_turnover_is_half_the_traded_notional_over_average_equity_per_year():
    # 252 returns at a flat 100: buying 200 and selling 200 replaces the book twice in a year
    m = metrics_compute(equity=curve([100.0] * 253), traded_notional=Decimal("400"), commissions=Decimal("1.5"), trades=4)
    assert m["turnover"] == pytest.approx(2.0)
    assert m["commissions"] == 1.5 and m["trades"] == 4
    assert m["sharpe"] is None  # zero volatility: undefined, not infinite


def test_risk_free_rate_is_converted_to_a_daily_rate_by_trading_days():
    assert daily_risk_free(0.05) == pytest.approx(1.05 ** (1 / 252) - 1)
    returns = pd.Series([0.01, -0.005, 0.004, 0.002])
    rf = 1.05 ** (1 / 252) - 1
    excess = returns - rf
    assert sharpe_ratio(returns, risk_free=0.05) == pytest.approx(excess.mean() / excess.std(ddof=1) * SQRT252)


@pytest.fixture
def long_curve() -> pd.Series:
    # deterministic: a drift, two cycles and a crash, 600 sessions
    i = np.arange(600)
    returns = 0.0004 + 0.012 * np.sin(i / 7.0) * np.cos(i / 31.0) - np.where(i == 300, 0.08, 0.0)
    equity = 100_000 * np.cumprod(np.concatenate([[1.0], 1 + returns]))
    return curve(equity)


@pytest.mark.slow
def test_cross_check_against_empyrical(long_curve):
    empyrical = pytest.importorskip("empyrical")
    returns = long_curve.pct_change().iloc[1:]
    rf = daily_risk_free(0.03)
    m = metrics_compute(equity=long_curve, risk_free=0.03)
    assert m["sharpe"] == pytest.approx(empyrical.sharpe_ratio(returns, risk_free=rf), rel=1e-9)
    assert m["sortino"] == pytest.approx(empyrical.sortino_ratio(returns, required_return=rf), rel=1e-9)
    assert m["volatility"] == pytest.approx(empyrical.annual_volatility(returns), rel=1e-9)
    assert m["max_drawdown"] == pytest.approx(empyrical.max_drawdown(returns), rel=1e-9)
    assert m["cagr"] == pytest.approx(empyrical.cagr(returns), rel=1e-9)
    assert m["total_return"] == pytest.approx(empyrical.cum_returns_final(returns), rel=1e-9)
    window = 63
    ours = rolling_sharpe(returns, window=window, risk_free=0.0).dropna()
    theirs = empyrical.roll_sharpe_ratio(returns, window=window)
    assert np.allclose(ours.to_numpy(), np.asarray(theirs)[-len(ours):], rtol=1e-9)
    assert sortino_ratio(returns.iloc[:1]) != sortino_ratio(returns.iloc[:1])  # NaN with one return


@pytest.mark.django_db
def test_daily_report_stores_pnl_returns_and_drawdown_against_earlier_days():
    days = [dt.date(2024, 3, 4), dt.date(2024, 3, 5), dt.date(2024, 3, 6)]
    for day, equity in zip(days, ["1000.00", "1100.00", "990.00"], strict=True):
        daily_report_record(day=day, equity=Decimal(equity), cash=Decimal("100.00"), positions=2, orders_filled=1,
                            orders_canceled=0)
    last = DailyPerformance.objects.get(day=days[2])
    assert last.pnl == Decimal("-110.00")
    assert last.daily_return == pytest.approx(-0.1)
    assert last.cumulative_return == pytest.approx(-0.01)
    assert last.drawdown == pytest.approx(-0.1)
    # re-recording a day replaces it
    daily_report_record(day=days[2], equity=Decimal("1210.00"), cash=Decimal("0"), positions=0, orders_filled=0,
                        orders_canceled=0)
    assert DailyPerformance.objects.count() == 3
    assert DailyPerformance.objects.get(day=days[2]).drawdown == pytest.approx(0.0)
