"""The strategy library: no look-ahead over many dates, worked examples, parameter validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marketdata.bundled import STOCKS_FILE
from strategies.library import ParameterError, parameters_validate, strategy_returns, strategy_weights
from workflow.demo import DEMO_STRATEGIES

EXTRA = [
    ("momentum", {"lookback": 60, "skip": 0, "top_n": 3}),
    ("mean_reversion", {"window": 10, "entry_z": 0.5}),
]
CASES = [(kind, params) for _, kind, params in DEMO_STRATEGIES] + EXTRA


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    """Real adjusted closes of the 20 bundled stocks, 2004-2012, with a hole to exercise NaN handling."""
    panel = pd.read_csv(STOCKS_FILE, index_col="Date", parse_dates=True).loc["2004-01-01":"2012-12-31"]
    panel.loc["2008-03-03":"2008-03-20", "GE"] = np.nan
    return panel


@pytest.mark.parametrize(("kind", "raw_params"), CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CASES)])
@pytest.mark.slow
def test_no_look_ahead_weights_for_day_d_equal_the_full_history_computation(prices, kind, raw_params):
    # given the full-history computation (what replay does in one pass)
    params = parameters_validate(kind=kind, parameters=raw_params)
    full = strategy_weights(kind=kind, parameters=params, prices=prices)
    # when recomputed from data ending at D (what live does on day D), for 80 dates spread over the years
    dates = prices.index[260::25][:80]
    assert len(dates) == 80
    for day in dates:
        truncated = strategy_weights(kind=kind, parameters=params, prices=prices.loc[:day])
        # then the last row is identical, scores and weights
        pd.testing.assert_series_equal(truncated.weights.iloc[-1], full.weights.loc[day], check_exact=True)
        pd.testing.assert_series_equal(truncated.scores.iloc[-1], full.scores.loc[day], check_exact=True)
    # and the strategy really trades (the comparison is not between empty rows)
    assert (full.weights.loc[dates].sum(axis=1) > 0.999).mean() > 0.5


def test_future_prices_do_not_change_past_weights(prices):
    params = parameters_validate(kind="sma_crossover", parameters={"fast": 5, "slow": 20})
    before = strategy_weights(kind="sma_crossover", parameters=params, prices=prices).weights.loc[:"2010-06-30"]
    shocked = prices.copy()
    shocked.loc["2010-07-01":] *= 3.0

    after = strategy_weights(kind="sma_crossover", parameters=params, prices=shocked).weights.loc[:"2010-06-30"]

    pd.testing.assert_frame_equal(before, after, check_exact=True)


def test_weights_are_long_only_and_rows_sum_to_one_or_zero(prices):
    for kind, raw in CASES:
        weights = strategy_weights(
            kind=kind, parameters=parameters_validate(kind=kind, parameters=raw), prices=prices
        ).weights
        sums = weights.sum(axis=1).round(12)
        assert (weights >= 0).all().all()
        assert set(sums.unique()) <= {0.0, 1.0}
        # a symbol without a price that day holds nothing
        assert (weights.loc["2008-03-03":"2008-03-20", "GE"] == 0).all()


def test_sma_crossover_worked_example():
    # A rises, B falls: fast(2) above slow(3) only for A from the third day
    prices = pd.DataFrame(
        {"A": [1.0, 2.0, 3.0, 4.0], "B": [4.0, 3.0, 2.0, 1.0]}, index=pd.date_range("2024-01-01", periods=4)
    )
    out = strategy_weights(kind="sma_crossover", parameters={"fast": 2, "slow": 3}, prices=prices)

    assert out.weights["A"].tolist() == [0.0, 0.0, 1.0, 1.0]
    assert out.weights["B"].tolist() == [0.0, 0.0, 0.0, 0.0]
    # score = fast/slow - 1 on day 3: (2.5 / 2) - 1
    assert out.scores.loc["2024-01-03", "A"] == 0.25


def test_momentum_worked_example_picks_the_top_n_positive_scores():
    prices = pd.DataFrame(
        {"A": [10.0, 11.0, 12.0], "B": [10.0, 10.5, 15.0], "C": [10.0, 9.0, 8.0], "D": [10.0, 10.1, 10.2]},
        index=pd.date_range("2024-01-01", periods=3),
    )
    out = strategy_weights(kind="momentum", parameters={"lookback": 2, "skip": 0, "top_n": 2}, prices=prices)

    # scores over 2 days: A +20%, B +50%, C -20%, D +2% → long B and A, half each
    assert out.weights.iloc[-1].tolist() == [0.5, 0.5, 0.0, 0.0]
    assert out.scores.iloc[-1].round(10).tolist() == [0.2, 0.5, -0.2, 0.02]


def test_mean_reversion_worked_example_weights_by_z_score():
    prices = pd.DataFrame(
        {"A": [10.0, 10.0, 10.0, 7.0], "B": [10.0, 11.0, 12.0, 9.0], "C": [1.0, 2.0, 3.0, 4.0]},
        index=pd.date_range("2024-01-01", periods=4),
    )
    out = strategy_weights(kind="mean_reversion", parameters={"window": 4, "entry_z": 1.0}, prices=prices)
    last = out.scores.iloc[-1]
    # A: mean 9.25, sample std 1.5 → z = -1.5; B: mean 10.5, std sqrt(5/3) → z = -1.161895; C: z > 0
    assert last["A"] == pytest.approx(1.5, abs=1e-12)
    assert last["B"] == pytest.approx(1.5 / np.sqrt(5 / 3), abs=1e-12)
    expected_a = 1.5 / (1.5 + 1.5 / np.sqrt(5 / 3))
    assert out.weights.iloc[-1]["A"] == pytest.approx(expected_a, abs=1e-12)
    assert out.weights.iloc[-1]["C"] == 0.0


def test_ensemble_averages_member_weights():
    prices = pd.DataFrame(
        {"A": [1.0, 2.0, 3.0, 4.0], "B": [4.0, 3.0, 2.0, 1.5]}, index=pd.date_range("2024-01-01", periods=4)
    )
    params = parameters_validate(
        kind="ensemble",
        parameters={
            "members": [
                {"kind": "sma_crossover", "parameters": {"fast": 2, "slow": 3}, "weight": 3},
                {"kind": "momentum", "parameters": {"lookback": 2, "skip": 0, "top_n": 2}, "weight": 1},
            ]
        },
    )
    out = strategy_weights(kind="ensemble", parameters=params, prices=prices)

    # both members are 100% A on the last day → ensemble 100% A
    assert out.weights.iloc[-1].tolist() == [1.0, 0.0]


def test_strategy_returns_hold_yesterdays_weights():
    prices = pd.DataFrame(
        {"A": [10.0, 11.0, 12.1], "B": [10.0, 10.0, 5.0]}, index=pd.date_range("2024-01-01", periods=3)
    )
    weights = pd.DataFrame({"A": [0.5, 1.0, 0.0], "B": [0.5, 0.0, 1.0]}, index=prices.index)

    returns = strategy_returns(weights=weights, prices=prices)

    # day 2: 0.5·10% + 0.5·0% = 5%; day 3: 1.0·10% = 10%
    assert returns.round(12).tolist() == [0.0, 0.05, 0.1]


@pytest.mark.parametrize(
    ("kind", "params", "field", "message"),
    [
        ("sma_crossover", {"fast": "20"}, "fast", "must be an integer"),
        ("sma_crossover", {"fast": 20.5}, "fast", "must be an integer"),
        ("sma_crossover", {"fast": True}, "fast", "must be an integer"),
        ("sma_crossover", {"fast": 1}, "fast", "between 2 and 250"),
        ("sma_crossover", {"fast": 60, "slow": 50}, "fast", "smaller than slow"),
        ("sma_crossover", {"speed": 3}, "speed", "unknown parameter"),
        ("momentum", {"lookback": 10, "skip": 10}, "skip", "smaller than lookback"),
        ("momentum", {"top_n": 0}, "top_n", "between 1 and 500"),
        ("mean_reversion", {"entry_z": "1"}, "entry_z", "must be a number"),
        ("mean_reversion", {"entry_z": -0.5}, "entry_z", "must be in [0.0, 10.0]"),
        ("mean_reversion", {"entry_z": float("nan")}, "entry_z", "finite"),
        ("ensemble", {"members": []}, "members", "2 to 10"),
        ("ensemble", {"members": [{"kind": "ensemble"}, {"kind": "momentum"}]}, "members[0].kind", "must be one of"),
        (
            "ensemble",
            {"members": [{"kind": "momentum", "weight": 0}, {"kind": "momentum"}]},
            "members[0].weight",
            "must be in (0.0",
        ),
        (
            "ensemble",
            {"members": [{"kind": "momentum"}, {"kind": "sma_crossover", "parameters": {"slow": 1}}]},
            "members[1].slow",
            "between 3 and 400",
        ),
    ],
)
def test_parameters_are_validated_per_kind_with_clear_errors(kind, params, field, message):
    with pytest.raises(ParameterError) as excinfo:
        parameters_validate(kind=kind, parameters=params)

    assert field in excinfo.value.fields
    assert message in excinfo.value.fields[field]


def test_defaults_are_filled_in():
    assert parameters_validate(kind="momentum", parameters={"top_n": 3}) == {"lookback": 126, "skip": 21, "top_n": 3}
    with pytest.raises(ParameterError):
        parameters_validate(kind="pairs", parameters={})
