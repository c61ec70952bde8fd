"""MultiAlphaAllocator: hand-computed worked examples, the cap, exclusions, and correlation alerts."""

from __future__ import annotations

import fcntl
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import redis
from django.conf import settings

from strategies.allocation import OUTPUT_COLUMNS, MultiAlphaAllocator, cap_redistribute, correlation_measure
from trading_site.alerts import ALERTS_CHANNEL
from trading_site.models import Alert


def sig(rows: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """{symbol: (score, weight)} → the allocator's input frame."""
    return pd.DataFrame([(s, sc, w) for s, (sc, w) in rows.items()], columns=["symbol", "score", "weight"])


THREE = {
    "A": sig({"X": (0.3, 0.5), "Y": (0.2, 0.5)}),
    "B": sig({"X": (0.9, 1.0)}),
    "C": sig({"Z": (0.1, 0.25), "W": (0.2, 0.75)}),
}


def as_dict(result) -> dict[str, float]:
    return dict(zip(result.weights["symbol"], result.weights["final_weight"].round(12), strict=True))


def test_equal_weight_worked_example():
    # each strategy gets 1/3: X = 1/3·0.5 + 1/3·1 = 0.5, Y = 1/6, Z = 1/3·0.25 = 1/12, W = 1/3·0.75 = 0.25
    result = MultiAlphaAllocator(method="equal_weight").allocate(THREE)

    assert list(result.weights.columns) == OUTPUT_COLUMNS
    assert as_dict(result) == pytest.approx({"W": 0.25, "X": 0.5, "Y": 1 / 6, "Z": 1 / 12}, abs=1e-12)
    assert result.weights["contributing_strategies"].tolist() == [["C"], ["A", "B"], ["A"], ["C"]]
    assert result.weights["final_weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert result.cap_feasible


def test_inverse_vol_worked_example_with_the_cap_redistributed():
    # σ = 10%, 20%, 40% → 1/σ = 10, 5, 2.5 → shares 4/7, 2/7, 1/7 = 0.5714, 0.2857, 0.1429
    # cap 40%: A → 0.40, the excess 0.1714 goes to B and C in proportion 2:1 → B = 0.40, C = 0.20
    stats = {"A": {"vol": 0.10}, "B": {"vol": 0.20}, "C": {"vol": 0.40}}
    result = MultiAlphaAllocator(method="inverse_vol", per_strategy_max=0.40).allocate(THREE, stats)

    shares = dict(zip(result.by_strategy["strategy"], result.by_strategy["strategy_weight"], strict=True))
    assert shares == pytest.approx({"A": 0.40, "B": 0.40, "C": 0.20}, abs=1e-12)
    # X = 0.4·0.5 + 0.4·1 = 0.6, Y = 0.2, Z = 0.2·0.25 = 0.05, W = 0.15
    assert as_dict(result) == pytest.approx({"W": 0.15, "X": 0.6, "Y": 0.2, "Z": 0.05}, abs=1e-12)


def test_inverse_vol_without_the_cap_binding():
    stats = {"A": {"vol": 0.10}, "B": {"vol": 0.20}, "C": {"vol": 0.40}}
    result = MultiAlphaAllocator(method="inverse_vol", per_strategy_max=1.0).allocate(THREE, stats)

    assert result.by_strategy["strategy_weight"].tolist() == pytest.approx([4 / 7, 2 / 7, 1 / 7], abs=1e-12)


def test_rank_aggregation_worked_example_with_the_cap():
    # A ranks X,Y,Z → 3/3, 2/3, 1/3 (sum 2); B ranks W, X → 2/2, 1/2 (sum 1.5); C holds Y → 1 (sum 1)
    # raw shares: A 2/4.5 = 0.4444 (above the 40% cap), B 1.5/4.5 = 0.3333, C 1/4.5 = 0.2222
    # cap: A = 0.40; excess 0.0444 to B and C in proportion 1.5:1 → B 0.36, C 0.24
    signals = {
        "A": sig({"X": (3.0, 0.2), "Y": (2.0, 0.3), "Z": (1.0, 0.5)}),
        "B": sig({"X": (0.5, 0.5), "W": (0.9, 0.5)}),
        "C": sig({"Y": (1.0, 1.0)}),
    }
    result = MultiAlphaAllocator(method="rank_aggregation").allocate(signals)

    shares = dict(zip(result.by_strategy["strategy"], result.by_strategy["strategy_weight"], strict=True))
    assert shares == pytest.approx({"A": 0.40, "B": 0.36, "C": 0.24}, abs=1e-12)
    # rows rescaled by 0.9 (A) and 1.08 (B, C):
    # X = 0.9·1/4.5 + 1.08·0.5/4.5 = 0.32; Y = 0.9·(2/3)/4.5 + 1.08·1/4.5 = 0.37333; Z = 0.9·(1/3)/4.5 = 0.06667; W = 0.24
    assert as_dict(result) == pytest.approx(
        {"W": 0.24, "X": 0.32, "Y": 0.13333333333 + 0.24, "Z": 0.0666666666667}, abs=1e-9
    )
    assert result.weights["final_weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert result.weights.set_index("symbol").loc["X", "contributing_strategies"] == ["A", "B"]


@pytest.mark.parametrize("method", ["rank_aggregation", "inverse_vol", "equal_weight"])
def test_total_equals_the_configured_gross_and_the_cap_holds(method):
    rng = np.random.default_rng(7)
    symbols = [f"S{i:03d}" for i in range(60)]
    signals = {
        f"strat{k}": sig(
            {s: (float(rng.normal()), float(rng.uniform(0.01, 1))) for s in rng.choice(symbols, 15, replace=False)}
        )
        for k in range(6)
    }
    stats = {name: {"vol": 0.05 + 0.05 * k} for k, name in enumerate(signals)}
    result = MultiAlphaAllocator(method=method, gross=1.5, per_strategy_max=0.25).allocate(signals, stats)

    assert result.weights["final_weight"].sum() == pytest.approx(1.5, abs=1e-9)
    assert (result.by_strategy["strategy_weight"] <= 0.25 * 1.5 + 1e-12).all()
    assert result.by_strategy["strategy_weight"].sum() == pytest.approx(1.5, abs=1e-9)


def test_infeasible_cap_keeps_the_cap_and_leaves_the_rest_in_cash(caplog):
    # two strategies with a 40% cap cannot hold 100%: each gets 40%, 20% stays in cash
    signals = {"A": sig({"X": (1.0, 1.0)}), "B": sig({"Y": (1.0, 1.0)})}
    with caplog.at_level(logging.WARNING, logger="strategies.allocation"):
        result = MultiAlphaAllocator(method="equal_weight").allocate(signals)

    assert not result.cap_feasible
    assert as_dict(result) == {"X": 0.4, "Y": 0.4}
    assert "cap infeasible" in caplog.text


def test_cap_redistribute_water_fills_repeatedly():
    # 0.7 → 0.3 cap; excess 0.4 spread 2:1 pushes B over too → B 0.3, the rest to C
    capped, feasible = cap_redistribute(np.array([0.7, 0.2, 0.1, 0.0]), np.array([0.3, 0.3, 0.5, 0.3]))

    assert feasible
    assert capped.tolist() == pytest.approx([0.3, 0.3, 0.4, 0.0], abs=1e-12)


def test_a_strategy_disabled_mid_way_drops_out():
    allocator = MultiAlphaAllocator(method="equal_weight", per_strategy_max=1.0)
    before = allocator.allocate(THREE)
    assert "B" in sum(before.weights["contributing_strategies"].tolist(), [])

    after = allocator.allocate(THREE, disabled_strategies={"B"})

    # A and C now split the capital: X = 0.25, Y = 0.25, Z = 0.125, W = 0.375
    assert as_dict(after) == pytest.approx({"W": 0.375, "X": 0.25, "Y": 0.25, "Z": 0.125}, abs=1e-12)
    assert "B" not in sum(after.weights["contributing_strategies"].tolist(), [])
    assert after.excluded == {"B": "disabled"}


def test_disabled_symbols_are_excluded_and_the_strategy_renormalises():
    result = MultiAlphaAllocator(method="equal_weight").allocate(THREE, disabled_symbols={"A": {"Y"}, "C": {"W"}})

    # A is 100% X, B 100% X, C 100% Z → X = 2/3, Z = 1/3
    assert as_dict(result) == pytest.approx({"X": 2 / 3, "Z": 1 / 3}, abs=1e-12)


def test_nan_and_empty_inputs_are_handled():
    allocator = MultiAlphaAllocator(method="equal_weight", per_strategy_max=1.0)
    signals = {
        "A": sig({"X": (np.nan, 1.0), "Y": (0.5, np.nan)}),
        "B": sig({"Z": (0.2, 0.0)}),
        "C": pd.DataFrame(columns=["symbol", "score", "weight"]),
    }

    result = allocator.allocate(signals)

    assert as_dict(result) == {"X": 1.0}
    assert result.excluded == {"B": "no positions", "C": "no positions"}
    empty = allocator.allocate({})
    assert list(empty.weights.columns) == OUTPUT_COLUMNS and empty.weights.empty
    # inverse_vol without a usable σ excludes the strategy instead of dividing by zero
    no_vol = MultiAlphaAllocator(method="inverse_vol", per_strategy_max=1.0).allocate(
        THREE, {"A": {"vol": 0.0}, "B": {"vol": float("nan")}, "C": {"vol": 0.2}}
    )
    assert as_dict(no_vol) == {"W": 0.75, "Z": 0.25}


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="unknown allocation method"):
        MultiAlphaAllocator(method="mean_variance")


def correlated_returns(rho: float, n: int = 60) -> pd.DataFrame:
    """Two return series with sample correlation exactly ``rho`` (a third one uncorrelated)."""
    rng = np.random.default_rng(3)
    base = rng.normal(size=(n, 3))
    q, _ = np.linalg.qr(base - base.mean(axis=0))  # orthonormal, zero-mean columns
    x, z, u = q[:, 0], q[:, 1], q[:, 2]
    y = rho * x + np.sqrt(1 - rho**2) * z
    return pd.DataFrame({"momentum": x * 0.01, "sma": y * 0.01, "meanrev": u * 0.01})


def test_correlation_measure_is_exact_on_constructed_series():
    result = correlation_measure(correlated_returns(0.71), threshold=0.70)

    pairs = {(a, b): round(c, 9) for a, b, c in result.pairs}
    assert pairs[("momentum", "sma")] == 0.71
    assert [(a, b) for a, b, _ in result.breaches] == [("momentum", "sma")]


@pytest.fixture
def alerts_subscription():
    """A subscription to the ``alerts`` channel, held by one test at a time on this machine: Redis pub/sub
    channels are server-wide (not per Redis database), so a test in another xdist worker (or another run
    on the same Redis) would otherwise hear, or publish into, this one's window."""
    with open(Path(tempfile.gettempdir()) / "trading-tests-alerts-channel.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        client = redis.Redis.from_url(settings.REDIS_URL)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(ALERTS_CHANNEL)
        yield pubsub
        pubsub.close()
        client.close()


def _messages(pubsub, wait: float = 1.5) -> list[dict]:
    found, deadline = [], time.monotonic() + wait
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.1)
        if message and message["type"] == "message":
            found.append(json.loads(message["data"]))
    return found


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
def test_correlation_above_070_warns_publishes_on_redis_and_stores_an_alert(alerts_subscription, caplog):
    allocator = MultiAlphaAllocator(correlation_threshold=0.70)

    with caplog.at_level(logging.WARNING):
        allocator.check_correlation(correlated_returns(0.71))

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "strategies.allocation"]
    assert len(warnings) == 1 and "momentum/sma 0.71" in warnings[0].getMessage()
    alert = Alert.objects.get()
    assert (alert.metric, alert.source, alert.severity) == ("strategy_correlation", "strategies", "warning")
    ours = [m for m in _messages(alerts_subscription) if m.get("id") == alert.pk]
    assert len(ours) == 1
    assert ours[0]["metric"] == "strategy_correlation"
    assert ours[0]["data"]["breaches"] == [{"a": "momentum", "b": "sma", "correlation": 0.71}]


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
def test_correlation_of_069_raises_nothing(alerts_subscription, caplog):
    allocator = MultiAlphaAllocator(correlation_threshold=0.70)

    with caplog.at_level(logging.WARNING):
        result = allocator.check_correlation(correlated_returns(0.69))

    assert result.breaches == []
    assert [round(c, 9) for a, b, c in result.pairs if (a, b) == ("momentum", "sma")] == [0.69]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not Alert.objects.exists()
    assert [m for m in _messages(alerts_subscription) if m.get("metric") == "strategy_correlation"] == []
