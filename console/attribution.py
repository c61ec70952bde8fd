"""Per-strategy figures for the strategies page: pure functions, no ORM, no clock (issue 21).

The live book is one blended portfolio (the rebalance places one order per symbol, ``strategy =
"rebalance"``), so a strategy's share of it is derived from the signals that built it
(docs/CONCEPTS/multi-alpha-allocation.md, "Per-strategy figures"):

- **share of a symbol**: in the latest signal run, each strategy's target weights normalised to sum
  to one (as the allocator normalises them), ``n[s, i] = w[s, i] / Σ_j w[s, j]``; strategy ``s``'s
  share of symbol ``i`` is ``c[s, i] = n[s, i] / Σ_k n[k, i]`` (the shares of a symbol sum to one);
- **P&L**: ``Σ_i c[s, i] · P&L_i`` with ``P&L_i`` the ledger's realized + unrealized P&L of symbol
  ``i`` (the dashboard's numbers), rounded to the cent;
- **exposure**: ``Σ_i c[s, i] · |market value_i|`` over the open positions (at cost when unpriced);
- what no strategy in the latest run targets (a manual trade, a symbol dropped from every universe)
  stays **unattributed**, so the strategies' P&L plus the unattributed P&L is the dashboard's total
  P&L to the cent, and the same for the gross exposure;
- **Sharpe**: of the strategy's own signals — the daily returns of holding its stored target weights
  (the latest signal on or before each session), ``r_t = Σ_i w[t−1, i] · (p_t,i / p_t−1,i − 1)`` on
  adjusted closes (``strategies.library.strategy_returns``), over the sessions after its first
  stored signal (at most the last ``SHARPE_SESSIONS``), annualised as everywhere
  (``workflow.performance.sharpe_ratio``); None with fewer than two returns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from strategies.library import strategy_returns
from trading_site.lib.money import quantize_money
from workflow.performance import sharpe_ratio

ZERO = Decimal(0)
SHARPE_SESSIONS = 63  # about a quarter, the performance page's rolling window


def symbol_shares(weights: Mapping[str, Mapping[str, Decimal]]) -> dict[str, dict[str, Decimal]]:
    """``{strategy: {symbol: c[s, i]}}`` from ``{strategy: {symbol: target weight}}`` (non-positive
    weights ignored; a strategy without a positive weight has no share)."""
    normalised: dict[str, dict[str, Decimal]] = {}
    for strategy, row in weights.items():
        held = {symbol: w for symbol, w in row.items() if w > 0}
        total = sum(held.values(), ZERO)
        if total > 0:
            normalised[strategy] = {symbol: w / total for symbol, w in held.items()}
    per_symbol: dict[str, Decimal] = {}
    for row in normalised.values():
        for symbol, n in row.items():
            per_symbol[symbol] = per_symbol.get(symbol, ZERO) + n
    return {
        strategy: {symbol: n / per_symbol[symbol] for symbol, n in row.items()} for strategy, row in normalised.items()
    }


@dataclass(frozen=True)
class Attribution:
    pnl: dict[str, Decimal]  # per strategy, to the cent
    exposure: dict[str, Decimal]
    unattributed_pnl: Decimal  # total − Σ strategies (so the column adds up to the dashboard's total)
    unattributed_exposure: Decimal
    total_pnl: Decimal
    gross_exposure: Decimal


def attribute(
    *,
    shares: Mapping[str, Mapping[str, Decimal]],
    symbol_pnl: Mapping[str, Decimal],
    symbol_exposure: Mapping[str, Decimal],
    total_pnl: Decimal,
) -> Attribution:
    """Split the ledger's per-symbol P&L and gross exposure by the strategies' shares of each symbol.

    ``total_pnl`` is the ledger's total (already rounded); the unattributed part is what is left of
    it once every strategy's rounded P&L is taken, so the figures add up exactly.
    """
    pnl = {
        s: quantize_money(sum((c * symbol_pnl.get(i, ZERO) for i, c in row.items()), ZERO)) for s, row in shares.items()
    }
    exposure = {
        s: quantize_money(sum((c * abs(symbol_exposure.get(i, ZERO)) for i, c in row.items()), ZERO))
        for s, row in shares.items()
    }
    gross = quantize_money(sum((abs(v) for v in symbol_exposure.values()), ZERO))
    return Attribution(
        pnl=pnl,
        exposure=exposure,
        unattributed_pnl=total_pnl - sum(pnl.values(), ZERO),
        unattributed_exposure=gross - sum(exposure.values(), ZERO),
        total_pnl=total_pnl,
        gross_exposure=gross,
    )


def signal_sharpe(
    *, signals: Iterable[tuple[dt.date, str, Decimal]], prices: pd.DataFrame, sessions: int = SHARPE_SESSIONS
) -> tuple[float | None, int]:
    """(Sharpe, number of daily returns) of holding one strategy's stored signals.

    ``signals``: ``(session, symbol, target weight)`` of its runs (one run per session); ``prices``:
    adjusted closes, sessions (DatetimeIndex) × symbols. A symbol without prices counts as cash.
    """
    rows = [(pd.Timestamp(day), symbol, float(w)) for day, symbol, w in signals]
    if not rows or prices.empty:
        return None, 0
    frame = pd.DataFrame(rows, columns=["session", "symbol", "weight"])
    weights = frame.pivot_table(index="session", columns="symbol", values="weight", aggfunc="last").fillna(0.0)
    symbols = [s for s in weights.columns if s in prices.columns]
    first = weights.index.min()
    index = prices.index[prices.index >= first]
    if not symbols or len(index) < 2:
        return None, 0
    held = weights[symbols].reindex(weights.index.union(index)).ffill().reindex(index).fillna(0.0)
    returns = strategy_returns(weights=held, prices=prices.loc[index, symbols]).iloc[1:].iloc[-sessions:]
    if len(returns) < 2:
        return None, len(returns)
    value = sharpe_ratio(returns)
    return (None if pd.isna(value) else round(value, 4)), len(returns)
