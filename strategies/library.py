"""The strategy library: vectorised, pure functions of a price panel (SPEC rule 6).

Each kind takes a DataFrame of backward-adjusted closes (sessions × symbols) and returns, for EVERY
session at once, a score and a long-only target weight per symbol. Live trading takes the last row;
replay computes all rows in one pass. Only causal operations are used (``shift`` by a non-negative
lag, trailing ``rolling`` windows, cross-sectional ranks within a row), so the row for day D depends
only on rows up to D — the no-look-ahead test compares the full-history computation with one on data
ending at D.

Weights in a row sum to 1 when the strategy holds anything and to 0 when it is flat; a symbol whose
price is missing on a day gets weight 0. How much capital each strategy gets is the allocator's job.

Kinds and parameters (validated by :func:`parameters_validate`, defaults filled in):

- ``sma_crossover`` {fast: int 2..250 = 20, slow: int 3..400 = 50, fast < slow}: long, equally
  weighted, every symbol whose fast SMA is above its slow SMA; score = fast/slow − 1.
- ``momentum`` {lookback: int 2..504 = 126, skip: int 0..63 = 21, skip < lookback, top_n: int
  1..500 = 5}: score = close[t−skip] / close[t−lookback] − 1; long, equally weighted, the top_n
  symbols with a positive score (ties broken by column order).
- ``mean_reversion`` {window: int 2..252 = 20, entry_z: number 0..10 = 1.0}: z = (close − SMA) /
  rolling std; long every symbol with z < −entry_z, weighted by −z; score = −z.
- ``ensemble`` {members: list of 2..10 {kind (not ensemble), parameters, weight: number > 0 = 1}}:
  the weight-averaged target weights of its members; score = the ensemble weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

KINDS = ("sma_crossover", "momentum", "mean_reversion", "ensemble")


class ParameterError(ValueError):
    """Invalid strategy parameters. ``fields`` maps a parameter name to its message."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True, slots=True)
class _Int:
    low: int
    high: int
    default: int

    def parse(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be an integer")
        if not self.low <= value <= self.high:
            raise ValueError(f"must be between {self.low} and {self.high}")
        return value


@dataclass(frozen=True, slots=True)
class _Number:
    low: float
    high: float
    default: float
    low_inclusive: bool = True

    def parse(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number")
        value = float(value)
        if not np.isfinite(value):
            raise ValueError("must be a finite number")
        too_low = value < self.low if self.low_inclusive else value <= self.low
        if too_low or value > self.high:
            bound = "[" if self.low_inclusive else "("
            raise ValueError(f"must be in {bound}{self.low}, {self.high}]")
        return value


SPECS: dict[str, dict[str, _Int | _Number]] = {
    "sma_crossover": {"fast": _Int(2, 250, 20), "slow": _Int(3, 400, 50)},
    "momentum": {"lookback": _Int(2, 504, 126), "skip": _Int(0, 63, 21), "top_n": _Int(1, 500, 5)},
    "mean_reversion": {"window": _Int(2, 252, 20), "entry_z": _Number(0.0, 10.0, 1.0)},
}
_MEMBER_WEIGHT = _Number(0.0, 1000.0, 1.0, low_inclusive=False)


def parameters_validate(*, kind: str, parameters: Any) -> dict:
    """Return the parameters with defaults filled in, or raise :class:`ParameterError`."""
    if kind not in KINDS:
        raise ParameterError({"kind": f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}"})
    if not isinstance(parameters, dict):
        raise ParameterError({"parameters": "must be an object"})
    if kind == "ensemble":
        return _ensemble_validate(parameters)
    spec = SPECS[kind]
    errors: dict[str, str] = {}
    unknown = sorted(set(parameters) - set(spec))
    for name in unknown:
        errors[name] = f"unknown parameter for {kind}; allowed: {', '.join(spec)}"
    result: dict[str, Any] = {}
    for name, rule in spec.items():
        try:
            result[name] = rule.parse(parameters[name]) if name in parameters else rule.default
        except ValueError as exc:
            errors[name] = str(exc)
    if not errors:
        if kind == "sma_crossover" and result["fast"] >= result["slow"]:
            errors["fast"] = "must be smaller than slow"
        if kind == "momentum" and result["skip"] >= result["lookback"]:
            errors["skip"] = "must be smaller than lookback"
    if errors:
        raise ParameterError(errors)
    return result


def _ensemble_validate(parameters: dict) -> dict:
    unknown = sorted(set(parameters) - {"members"})
    if unknown:
        raise ParameterError(dict.fromkeys(unknown, "unknown parameter for ensemble; allowed: members"))
    members = parameters.get("members")
    if not isinstance(members, list) or not 2 <= len(members) <= 10:
        raise ParameterError({"members": "must be a list of 2 to 10 members"})
    result = []
    for i, member in enumerate(members):
        prefix = f"members[{i}]"
        if not isinstance(member, dict):
            raise ParameterError({prefix: "must be an object with kind, parameters and weight"})
        extra = sorted(set(member) - {"kind", "parameters", "weight"})
        if extra:
            raise ParameterError({f"{prefix}.{extra[0]}": "unknown key; allowed: kind, parameters, weight"})
        kind = member.get("kind")
        if kind not in SPECS:
            raise ParameterError({f"{prefix}.kind": f"must be one of {', '.join(SPECS)}"})
        try:
            params = parameters_validate(kind=kind, parameters=member.get("parameters", {}))
        except ParameterError as exc:
            raise ParameterError({f"{prefix}.{k}": v for k, v in exc.fields.items()}) from None
        try:
            weight = _MEMBER_WEIGHT.parse(member.get("weight", 1.0))
        except ValueError as exc:
            raise ParameterError({f"{prefix}.weight": str(exc)}) from None
        result.append({"kind": kind, "parameters": params, "weight": weight})
    return {"members": result}


def lookback_sessions(*, kind: str, parameters: dict) -> int:
    """Sessions of history a strategy needs before its first non-empty row."""
    if kind == "sma_crossover":
        return parameters["slow"]
    if kind == "momentum":
        return parameters["lookback"] + 1
    if kind == "mean_reversion":
        return parameters["window"]
    return max(lookback_sessions(kind=m["kind"], parameters=m["parameters"]) for m in parameters["members"])


@dataclass(frozen=True, slots=True)
class StrategyOutput:
    scores: pd.DataFrame  # sessions × symbols, NaN where undefined
    weights: pd.DataFrame  # sessions × symbols, >= 0, each row sums to 1 or 0


def _normalise(raw: pd.DataFrame) -> pd.DataFrame:
    raw = raw.fillna(0.0).clip(lower=0.0)
    total = raw.sum(axis=1)
    return raw.div(total.where(total > 0), axis=0).fillna(0.0)


def sma_crossover(prices: pd.DataFrame, *, fast: int, slow: int) -> StrategyOutput:
    fast_ma = prices.rolling(fast, min_periods=fast).mean()
    slow_ma = prices.rolling(slow, min_periods=slow).mean()
    score = fast_ma / slow_ma - 1.0
    score = score.where(prices.notna())
    return StrategyOutput(score, _normalise((score > 0).astype(float)))


def momentum(prices: pd.DataFrame, *, lookback: int, skip: int, top_n: int) -> StrategyOutput:
    score = prices.shift(skip) / prices.shift(lookback) - 1.0
    score = score.where(prices.notna())
    rank = score.rank(axis=1, ascending=False, method="first")
    chosen = (rank <= top_n) & (score > 0)
    return StrategyOutput(score, _normalise(chosen.astype(float)))


def mean_reversion(prices: pd.DataFrame, *, window: int, entry_z: float) -> StrategyOutput:
    mean = prices.rolling(window, min_periods=window).mean()
    std = prices.rolling(window, min_periods=window).std()
    z = (prices - mean) / std.where(std > 0)
    score = -z
    raw = score.where(z < -entry_z, 0.0)
    return StrategyOutput(score, _normalise(raw))


def ensemble(prices: pd.DataFrame, *, members: list[dict]) -> StrategyOutput:
    total = sum(m["weight"] for m in members)
    combined = None
    for member in members:
        out = strategy_weights(kind=member["kind"], parameters=member["parameters"], prices=prices)
        part = out.weights * (member["weight"] / total)
        combined = part if combined is None else combined + part
    weights = _normalise(combined)
    return StrategyOutput(weights.where(prices.notna()), weights)


def strategy_weights(*, kind: str, parameters: dict, prices: pd.DataFrame) -> StrategyOutput:
    """Scores and target weights for every session of ``prices`` (parameters must be validated)."""
    prices = prices.astype(float).sort_index()
    if kind == "sma_crossover":
        return sma_crossover(prices, **parameters)
    if kind == "momentum":
        return momentum(prices, **parameters)
    if kind == "mean_reversion":
        return mean_reversion(prices, **parameters)
    if kind == "ensemble":
        return ensemble(prices, **parameters)
    raise ParameterError({"kind": f"unknown kind {kind!r}"})


def strategy_returns(*, weights: pd.DataFrame, prices: pd.DataFrame) -> pd.Series:
    """Daily returns of holding yesterday's target weights: r[t] = Σ_i w[t−1, i] · (p[t, i] / p[t−1, i] − 1)."""
    asset_returns = prices.astype(float).pct_change(fill_method=None).fillna(0.0)
    return (weights.shift(1).fillna(0.0) * asset_returns).sum(axis=1)
