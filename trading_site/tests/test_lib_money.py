from decimal import Decimal

import pytest

from trading_site.lib.money import DecimalInputError, parse_price, parse_qty, quantize_cents, whole_shares


@pytest.mark.parametrize("raw", ["0", "-1", "NaN", "nan", "inf", "-Infinity", "1e309", "abc", "", True, "0.0000000001"])
def test_parse_qty_rejects_bad_values(raw):
    with pytest.raises(DecimalInputError):
        parse_qty(raw)


def test_parse_qty_accepts_exact_decimals():
    assert parse_qty("10") == Decimal("10")
    assert parse_qty(0.1) == Decimal("0.1")  # float goes through repr, not binary expansion
    assert parse_qty("0.123456789") == Decimal("0.123456789")


def test_parse_price_rejects_more_than_six_places():
    with pytest.raises(DecimalInputError):
        parse_price("1.0000001")
    assert parse_price("187.25") == Decimal("187.25")


def test_quantize_cents_is_bankers_rounding():
    assert quantize_cents(Decimal("2.345")) == Decimal("2.34")
    assert quantize_cents(Decimal("2.355")) == Decimal("2.36")


def test_whole_shares_rounds_toward_zero():
    assert whole_shares(Decimal("12.99")) == Decimal("12")
    assert whole_shares(Decimal("-12.99")) == Decimal("-12")
