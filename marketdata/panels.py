"""Price panels for analytics: raw or backward-adjusted closes as pandas DataFrames (dates × symbols).

Bars are stored raw (as traded) for execution and tax. Signals need a continuous series, so
:func:`close_panel` divides every close *before* a split's ex-date by the split factor
(``ratio_to / ratio_from``) and multiplies it by ``1 - dividend / previous close`` for each cash
dividend — the standard backward adjustment: the latest prices equal the raw ones, history is
rescaled. Series loaded pre-adjusted (the bundled 20-stock file) carry no actions, so they pass
through unchanged.

pandas and float are fine here (analytics); nothing in this module writes to the ledger.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from marketdata.bundled import BENCHMARK_SYMBOL
from marketdata.models import Bar, CorporateAction


def _bars_frame(*, symbols: list[str] | None, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
    qs = Bar.objects.all()
    if symbols is not None:
        qs = qs.filter(asset__symbol__in=[s.upper() for s in symbols])
    if start is not None:
        qs = qs.filter(session__gte=start)
    if end is not None:
        qs = qs.filter(session__lte=end)
    rows = list(qs.order_by().values_list("session", "asset__symbol", "close"))
    if not rows:
        return pd.DataFrame(columns=["session", "symbol", "close"])
    sessions, syms, closes = zip(*rows, strict=True)
    return pd.DataFrame(
        {"session": pd.to_datetime(list(sessions)), "symbol": list(syms), "close": np.array(closes, dtype=float)}
    )


def adjustment_factors(
    *, index: pd.DatetimeIndex, raw_close: pd.Series, actions: list[tuple[dt.date, str, float, float]]
) -> pd.Series:
    """Multiplicative backward-adjustment factor per session for one symbol.

    ``actions`` are ``(ex_date, kind, split_factor, dividend)``. A session strictly before an ex-date
    gets ``1 / split_factor`` for a split and ``1 - dividend / close[ex_date - 1 session]`` for a dividend.
    """
    factors = pd.Series(1.0, index=index)
    for ex_date, kind, split_factor, dividend in actions:
        before = index < pd.Timestamp(ex_date)
        if not before.any():
            continue
        if kind == CorporateAction.Kind.SPLIT:
            factors[before] /= split_factor
        else:
            previous_close = raw_close[before].iloc[-1]
            if previous_close > dividend > 0:
                factors[before] *= 1.0 - dividend / previous_close
    return factors


def close_panel(
    *,
    symbols: list[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    adjusted: bool = True,
) -> pd.DataFrame:
    """Closes as a DataFrame indexed by session (DatetimeIndex), one float column per symbol.

    Missing bars are NaN. With ``adjusted`` the series are backward-adjusted for splits and dividends
    (for signals); without it they are the raw traded prices.
    """
    frame = _bars_frame(symbols=symbols, start=start, end=end)
    if frame.empty:
        return pd.DataFrame(index=pd.DatetimeIndex([], name="session"), dtype=float)
    panel = frame.pivot(index="session", columns="symbol", values="close").sort_index()
    panel.columns.name = None
    if adjusted:
        by_symbol: dict[str, list] = {}
        qs = CorporateAction.objects.filter(asset__symbol__in=list(panel.columns))
        if start is not None:
            qs = qs.filter(ex_date__gt=start)
        for symbol, ex_date, kind, r_from, r_to, cash in qs.values_list(
            "asset__symbol", "ex_date", "kind", "ratio_from", "ratio_to", "cash_amount"
        ):
            split = float(r_to / r_from) if kind == CorporateAction.Kind.SPLIT else 1.0
            by_symbol.setdefault(symbol, []).append((ex_date, kind, split, float(cash or 0)))
        for symbol, actions in by_symbol.items():
            column = panel[symbol]
            panel[symbol] = column * adjustment_factors(index=panel.index, raw_close=column, actions=actions)
    return panel


def benchmark_close_series(
    *, start: dt.date | None = None, end: dt.date | None = None, symbol: str = BENCHMARK_SYMBOL
) -> pd.Series:
    """The benchmark's daily closes (S&P 500 index by default) as a float Series indexed by session."""
    panel = close_panel(symbols=[symbol], start=start, end=end, adjusted=True)
    if symbol not in panel.columns:
        return pd.Series(dtype=float, name=symbol, index=pd.DatetimeIndex([], name="session"))
    return panel[symbol].dropna().rename(symbol)
