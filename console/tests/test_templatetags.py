"""Presentation filters: exact strings for money, signed P&L, quantities, percentages and timestamps."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from console.templatetags.console_tags import get_item, isotime, money, pct, pnl_class, qty, signed_money


@pytest.mark.parametrize(("value", "expected"), [(D("1234.5"), "1,234.50"), (D("0.005"), "0.01"), (D("-2.345"), "-2.35"),
                                                 (None, "—"), ("", "—"), ("abc", "—")])
def test_money(value, expected):
    assert money(value) == expected


@pytest.mark.parametrize(("value", "expected", "css"), [(D("12.3"), "+12.30", "ok"), (D("-4"), "-4.00", "bad"),
                                                        (D("0"), "0.00", ""), (None, "—", "")])
def test_signed_money_and_class(value, expected, css):
    assert (signed_money(value), pnl_class(value)) == (expected, css)


def test_qty_pct_isotime_get_item():
    assert (qty(D("10.000000000")), qty(D("0.500")), qty(D("-0")), qty(None)) == ("10", "0.5", "0", "—")
    assert (pct(D("0.02")), pct(D("0.4"), 0), pct(None)) == ("2.00%", "40%", "—")
    assert isotime("2026-03-10T15:00:01.123+00:00") == "2026-03-10 15:00:01" and isotime(None) == "—"
    assert get_item({1: "a"}, 1) == "a" and get_item({}, 1) is None and get_item(None, 1) is None
