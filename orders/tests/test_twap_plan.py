"""TWAP plan(): the reference examples, the edge rules, and properties (hypothesis)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.twap import MAX_SLICES, TWAPPlanError, TWAPSlicer, plan

START = dt.datetime(2025, 3, 3, 15, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def qtys(total, slices, **kw):
    return [s.qty for s in plan(total_qty=Decimal(total), n_slices=slices, horizon=HOUR, start=START, **kw)]


@pytest.mark.parametrize(
    ("total", "slices", "expected"),
    [
        ("3", 10, ["1", "1", "1"]),
        ("0.5", 10, ["0.5"]),
        ("1.5", 3, ["0.5", "0.5", "0.5"]),
        ("100", 6, ["17", "17", "17", "17", "16", "16"]),
        ("10", 1, ["10"]),
        ("1", 5, ["1"]),
    ],
)
def test_reference_examples(total, slices, expected):
    assert qtys(total, slices) == [Decimal(e) for e in expected]


def test_fractional_remainder_goes_to_the_last_slice_exactly():
    result = qtys("1.000000001", 3)
    assert result == [Decimal("0.333333333"), Decimal("0.333333333"), Decimal("0.333333335")]
    assert sum(result) == Decimal("1.000000001")


def test_times_are_absolute_and_use_the_planned_count():
    slices = plan(total_qty=Decimal(3), n_slices=10, horizon=HOUR, start=START)
    assert [s.scheduled_time for s in slices] == [START, START + dt.timedelta(minutes=20), START + dt.timedelta(minutes=40)]
    assert [s.slice_num for s in slices] == [0, 1, 2]


def test_minimum_lot_caps_the_slice_count():
    assert qtys("250", 6, min_lot=Decimal(100)) == [Decimal(125), Decimal(125)]
    assert all(q >= 100 for q in qtys("1000", 20, min_lot=Decimal(100)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_slices": 0}, "positive whole number"),
        ({"n_slices": -2}, "positive whole number"),
        ({"n_slices": MAX_SLICES + 1}, "at most"),
        ({"horizon": dt.timedelta(0)}, "horizon must be positive"),
        ({"horizon": -HOUR}, "horizon must be positive"),
        ({"total_qty": Decimal(0)}, "positive number"),
        ({"total_qty": Decimal(-5)}, "positive number"),
        ({"total_qty": Decimal("NaN")}, "positive number"),
        ({"total_qty": Decimal(50), "min_lot": Decimal(100)}, "below the minimum lot"),
    ],
)
def test_bad_input_is_refused(kwargs, message):
    args = {"total_qty": Decimal(100), "n_slices": 6, "horizon": HOUR} | kwargs
    with pytest.raises(TWAPPlanError, match=message):
        TWAPSlicer(**args)


def test_naive_start_is_refused():
    with pytest.raises(TWAPPlanError, match="timezone-aware"):
        TWAPSlicer(total_qty=Decimal(10), n_slices=2, horizon=HOUR).plan(dt.datetime(2025, 1, 1))


quantities = st.one_of(
    st.integers(min_value=1, max_value=10_000_000).map(Decimal),
    st.decimals(min_value=Decimal("0.000000001"), max_value=Decimal(1_000_000), places=9, allow_nan=False),
)


@given(total=quantities, n=st.integers(min_value=1, max_value=MAX_SLICES), minutes=st.integers(min_value=1, max_value=600))
def test_plan_properties(total, n, minutes):
    horizon = dt.timedelta(minutes=minutes)
    slices = plan(total_qty=total, n_slices=n, horizon=horizon, start=START)
    # Sums exactly, never a zero or negative slice, at the ledger's precision.
    assert sum(s.qty for s in slices) == total
    assert all(s.qty > 0 for s in slices)
    assert all(s.qty == s.qty.quantize(Decimal("0.000000001")) for s in slices)
    # Count rules.
    is_integer = total == total.to_integral_value()
    if is_integer:
        assert len(slices) == min(n, int(total))
        sizes = {s.qty for s in slices}
        assert max(sizes) - min(sizes) <= 1
        assert [s.qty for s in slices] == sorted((s.qty for s in slices), reverse=True)  # remainder first
    elif total < 1:
        assert len(slices) == 1
    else:
        assert len(slices) == n
    # Times: increasing, evenly spaced, inside the horizon.
    interval = horizon / len(slices)
    assert [s.scheduled_time for s in slices] == [START + interval * i for i in range(len(slices))]
    assert slices[-1].scheduled_time < START + horizon
    assert [s.slice_num for s in slices] == list(range(len(slices)))
