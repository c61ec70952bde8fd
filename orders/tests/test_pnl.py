"""Worked examples for position arithmetic (hand-computed Decimals)."""

from decimal import Decimal as D

import pytest

from orders.pnl import PositionState, apply_fill, unrealized_pnl


def test_buys_average_then_partial_close_then_flip_then_close():
    # given a flat position
    s = PositionState()
    # when buying 100 @ 10 and 50 @ 13
    s = apply_fill(s, side="buy", qty=D(100), price=D("10"))
    s = apply_fill(s, side="buy", qty=D(50), price=D("13"))
    # then avg = (100*10 + 50*13) / 150 = 1650 / 150 = 11
    assert (s.qty, s.avg_cost, s.realized) == (D(150), D("11.000000"), D("0.000000"))
    # when selling 60 @ 12: realized 60 * (12 - 11) = 60; avg unchanged
    s = apply_fill(s, side="sell", qty=D(60), price=D("12"))
    assert (s.qty, s.avg_cost, s.realized) == (D(90), D("11.000000"), D("60.000000"))
    # when selling 120 @ 9: closes 90 (90 * (9 - 11) = -180 → realized -120), opens short 30 @ 9
    s = apply_fill(s, side="sell", qty=D(120), price=D("9"))
    assert (s.qty, s.avg_cost, s.realized) == (D(-30), D("9.000000"), D("-120.000000"))
    # when buying 30 @ 8 to cover: a short gains 30 * (9 - 8) = 30 → realized -90, flat, no cost
    s = apply_fill(s, side="buy", qty=D(30), price=D("8"))
    assert (s.qty, s.avg_cost, s.realized) == (D(0), D(0), D("-90.000000"))


def test_commission_reduces_realized_not_cost():
    s = apply_fill(PositionState(), side="buy", qty=D(10), price=D("20"), commission=D("1.25"))
    assert (s.avg_cost, s.realized) == (D("20.000000"), D("-1.250000"))
    s = apply_fill(s, side="sell", qty=D(10), price=D("21"), commission=D("1.25"))
    # 10 * (21 - 20) - 1.25 - 1.25 = 7.50
    assert (s.qty, s.realized) == (D(0), D("7.500000"))


def test_fractional_average_rounds_half_even_to_six_places():
    s = apply_fill(PositionState(), side="buy", qty=D("1"), price=D("10"))
    s = apply_fill(s, side="buy", qty=D("2"), price=D("10.01"))
    # (10 + 20.02) / 3 = 10.006666... → 10.006667
    assert s.avg_cost == D("10.006667")


def test_unrealized_for_long_and_short():
    assert unrealized_pnl(qty=D(90), avg_cost=D(11), price=D("12.5")) == D("135.000000")
    assert unrealized_pnl(qty=D(-30), avg_cost=D(9), price=D("8")) == D("30.000000")
    assert unrealized_pnl(qty=D(5), avg_cost=D(1), price=None) is None


def test_bad_fill_refused():
    with pytest.raises(ValueError):
        apply_fill(PositionState(), side="buy", qty=D(0), price=D(1))
