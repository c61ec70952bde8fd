"""MultiAlphaAllocator: blend several strategies' target weights into one portfolio (pure pandas/numpy).

Input per strategy: a DataFrame with columns ``symbol``, ``score``, ``weight`` (its own long-only
target weights; they need not sum to 1, they are normalised). Output: ``symbol, final_weight,
contributing_strategies`` (sorted by symbol) and the capital share of each strategy.

Every method builds a contribution matrix C[s, i] ≥ 0 with ΣC = 1 (strategy s's share of symbol i):

- ``equal_weight``:      C[s, i] = w[s, i] / S
- ``inverse_vol``:       C[s, i] = w[s, i] · (1/σ_s) / Σ_k (1/σ_k)   (σ_s from ``strategy_stats[s]["vol"]``)
- ``rank_aggregation``:  r[s, i] = rank of i's score among s's held symbols (1 = lowest, ties averaged)
                         divided by n_s, so the best symbol has 1;  C[s, i] = r[s, i] / Σ r
                         (the final weight of i is its normalised rank summed over strategies — a Borda count)

where w[s, ·] is strategy s's weights normalised to sum to 1. The strategy's capital share is
W_s = Σ_i C[s, i]. The per-strategy cap (40% default, or per strategy) is enforced by water-filling:
every W_s above its cap is set to the cap and the excess is handed to the uncapped strategies in
proportion to their W, repeated until nothing exceeds its cap. The rows of C are rescaled by
W'_s / W_s and ``final_weight[i] = gross · Σ_s C'[s, i]``, so the weights sum to ``gross``.

Infeasible cap: when the caps of the strategies that hold anything sum to less than 1 (for example
two strategies with a 40% cap), no redistribution can respect the caps; each strategy then gets its
cap, the rest stays in cash (the total is below ``gross``) and ``cap_feasible`` is False. A risk cap
is never silently relaxed.

Excluded: disabled strategies, disabled symbols (per strategy), NaN or non-positive weights,
strategies left with no position, and for ``inverse_vol`` strategies without a finite positive σ.
Empty input gives an empty frame with the output columns.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from itertools import compress
from typing import Literal

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

AllocMethod = Literal["rank_aggregation", "inverse_vol", "equal_weight"]
METHODS: tuple[str, ...] = ("rank_aggregation", "inverse_vol", "equal_weight")
OUTPUT_COLUMNS = ["symbol", "final_weight", "contributing_strategies"]
_EPS = 1e-12


@dataclass(frozen=True)
class AllocationResult:
    method: str
    gross: float
    weights: pd.DataFrame  # symbol, final_weight, contributing_strategies
    by_strategy: pd.DataFrame  # strategy, strategy_weight (fractions of equity, sum = gross when feasible)
    cap_feasible: bool
    excluded: dict[str, str] = field(default_factory=dict)  # strategy -> why it got nothing


@dataclass(frozen=True)
class CorrelationResult:
    threshold: float
    matrix: pd.DataFrame
    pairs: list[tuple[str, str, float]]  # every pair with a defined correlation
    breaches: list[tuple[str, str, float]]  # pairs strictly above the threshold

    def as_dict(self) -> dict:
        return {
            "threshold": self.threshold,
            "pairs": [{"a": a, "b": b, "correlation": round(c, 6)} for a, b, c in self.pairs],
            "breaches": [{"a": a, "b": b, "correlation": round(c, 6)} for a, b, c in self.breaches],
            "alert": bool(self.breaches),
        }


def _average_rank(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ascending, ties get the average of their positions (like pandas ``method="average"``)."""
    order = np.argsort(values, kind="mergesort")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)
    return ranks


def cap_redistribute(weights: np.ndarray, caps: np.ndarray) -> tuple[np.ndarray, bool]:
    """Water-fill ``weights`` (summing to 1) under per-entry ``caps``. Returns (capped weights, feasible)."""
    w = np.asarray(weights, dtype=float).copy()
    caps = np.asarray(caps, dtype=float)
    active = w > 0
    feasible = bool(caps[active].sum() >= w.sum() - 1e-9)
    if not feasible:
        return np.where(active, caps, 0.0), False
    capped = np.zeros_like(active)
    while True:
        over = (w > caps + _EPS) & ~capped
        if not over.any():
            break
        capped |= over
        excess = float((w[over] - caps[over]).sum())
        w[over] = caps[over]
        free = ~capped & active
        w[free] += excess * w[free] / w[free].sum()
    return w, True


class MultiAlphaAllocator:
    """Blend strategies' signals with one of three methods under a per-strategy cap."""

    def __init__(
        self,
        *,
        method: AllocMethod = "rank_aggregation",
        per_strategy_max: float = 0.40,
        gross: float = 1.0,
        strategy_caps: Mapping[str, float] | None = None,
        correlation_threshold: float = 0.70,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown allocation method {method!r}; expected one of {', '.join(METHODS)}")
        if not 0 < per_strategy_max <= 1:
            raise ValueError("per_strategy_max must be in (0, 1]")
        if not gross > 0 or not np.isfinite(gross):
            raise ValueError("gross must be a positive number")
        self.method = method
        self.per_strategy_max = float(per_strategy_max)
        self.gross = float(gross)
        self.strategy_caps = dict(strategy_caps or {})
        self.correlation_threshold = float(correlation_threshold)

    # --- allocation ----------------------------------------------------------------------------------

    def allocate(
        self,
        signals: Mapping[str, pd.DataFrame],
        strategy_stats: Mapping[str, Mapping[str, float]] | None = None,
        *,
        disabled_strategies: Collection[str] = (),
        disabled_symbols: Mapping[str, Collection[str]] | None = None,
    ) -> AllocationResult:
        strategy_stats = strategy_stats or {}
        disabled_symbols = disabled_symbols or {}
        excluded: dict[str, str] = {}
        names: list[str] = []
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (symbols, weights, scores) per strategy
        for name in sorted(signals):
            if name in disabled_strategies:
                excluded[name] = "disabled"
                continue
            frame = signals[name]
            if frame is None or len(frame) == 0:
                excluded[name] = "no positions"
                continue
            symbols = frame["symbol"].to_numpy(dtype=object)
            weight = pd.to_numeric(frame["weight"], errors="coerce").to_numpy(dtype=float)
            keep = np.isfinite(weight) & (weight > 0)
            off = disabled_symbols.get(name)
            if off:
                keep &= ~np.isin(symbols, list(off))
            if not keep.any():
                excluded[name] = "no positions"
                continue
            if self.method == "inverse_vol":
                vol = strategy_stats.get(name, {}).get("vol")
                if vol is None or not np.isfinite(vol) or vol <= 0:
                    excluded[name] = "no valid volatility"
                    continue
            score = pd.to_numeric(frame["score"], errors="coerce").to_numpy(dtype=float) if "score" in frame else weight
            # A missing score falls back to the weight so the symbol is still ranked by conviction.
            score = np.where(np.isfinite(score), score, weight)
            parts.append((symbols[keep], weight[keep], score[keep]))
            names.append(name)
        if not parts:
            return self._empty(excluded)

        all_symbols, inverse = np.unique(np.concatenate([p[0] for p in parts]).astype(str), return_inverse=True)
        weights = np.zeros((len(names), len(all_symbols)))
        ranks = np.zeros_like(weights) if self.method == "rank_aggregation" else None
        offset = 0
        for s, (symbols, weight, score) in enumerate(parts):
            columns = inverse[offset : offset + len(symbols)]
            offset += len(symbols)
            np.add.at(weights[s], columns, weight)  # duplicate rows of one symbol add up
            if ranks is not None:
                np.maximum.at(ranks[s], columns, _average_rank(score) / len(score))
        weights /= weights.sum(axis=1, keepdims=True)

        if self.method == "equal_weight":
            contrib = weights / len(names)
        elif self.method == "inverse_vol":
            inv = np.array([1.0 / float(strategy_stats[n]["vol"]) for n in names])
            contrib = weights * (inv / inv.sum())[:, None]
        else:
            contrib = ranks / ranks.sum()

        shares = contrib.sum(axis=1)
        caps = np.array([float(self.strategy_caps.get(n, self.per_strategy_max)) for n in names])
        capped, feasible = cap_redistribute(shares, caps)
        if not feasible:
            logger.warning(
                "allocation cap infeasible: %d strategies with caps summing to %.2f cannot hold 100%%; "
                "the remainder stays in cash",
                len(names),
                caps.sum(),
            )
        contrib = contrib * (capped / shares)[:, None]
        final = self.gross * contrib.sum(axis=0)
        held = final > _EPS
        mask = (contrib[:, held] > _EPS).T.tolist()
        contributing = [list(compress(names, row)) for row in mask]
        result = pd.DataFrame(
            {"symbol": all_symbols[held], "final_weight": final[held], "contributing_strategies": contributing},
            columns=OUTPUT_COLUMNS,
        )
        by_strategy = pd.DataFrame({"strategy": names, "strategy_weight": self.gross * capped})
        return AllocationResult(self.method, self.gross, result, by_strategy, feasible, excluded)

    def _empty(self, excluded: dict[str, str]) -> AllocationResult:
        return AllocationResult(
            self.method,
            self.gross,
            pd.DataFrame(columns=OUTPUT_COLUMNS),
            pd.DataFrame(columns=["strategy", "strategy_weight"]),
            True,
            excluded,
        )

    # --- correlation monitoring ----------------------------------------------------------------------

    def check_correlation(self, recent_returns: pd.DataFrame) -> CorrelationResult:
        """Pairwise correlation of strategies' recent returns; alerts when any pair is above the threshold.

        A breach logs a WARNING and raises an Alert (stored, then published as JSON on the Redis
        ``alerts`` channel after commit) with ``"metric": "strategy_correlation"``.
        """
        result = correlation_measure(recent_returns, threshold=self.correlation_threshold)
        if result.breaches:
            # allocation stays pure (pandas/numpy) for replays and benchmarks; Django only on a breach
            from trading_site.alerts import alert_raise

            listed = ", ".join(f"{a}/{b} {c:.2f}" for a, b, c in result.breaches)
            logger.warning("strategy returns too correlated (threshold %.2f): %s", result.threshold, listed)
            alert_raise(
                source="strategies",
                metric="strategy_correlation",
                message=f"Strategies are too correlated (> {result.threshold:.2f}): {listed}",
                data=result.as_dict(),
            )
        return result


def correlation_measure(returns: pd.DataFrame, *, threshold: float = 0.70) -> CorrelationResult:
    """Pure: Pearson correlation of each pair of columns (strategies); no alerting."""
    clean = returns.astype(float).dropna(how="all")
    # A strategy with constant returns (e.g. flat, all cash) has no defined correlation.
    varying = [c for c in clean.columns if clean[c].nunique(dropna=True) > 1]
    matrix = clean[varying].corr() if varying else pd.DataFrame()
    pairs: list[tuple[str, str, float]] = []
    for i, a in enumerate(varying):
        for b in varying[i + 1 :]:
            value = matrix.at[a, b]
            if np.isfinite(value):
                pairs.append((str(a), str(b), float(value)))
    breaches = [p for p in pairs if p[2] > threshold]
    return CorrelationResult(threshold=threshold, matrix=matrix, pairs=pairs, breaches=breaches)
