"""Small helpers shared by benchmarks: percentiles and result records."""

from __future__ import annotations

import statistics


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no samples")
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values)


def result(name: str, value: float, unit: str, budget: str, ok: bool) -> dict:
    return {"name": name, "value": round(value, 4), "unit": unit, "budget": budget, "ok": bool(ok)}
