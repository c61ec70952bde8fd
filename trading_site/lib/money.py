"""Decimal rules for the ledger, in one place.

Money and quantities are ``Decimal`` end to end. Database columns use the precisions below; the
quantize helpers round with banker's rounding (ROUND_HALF_EVEN) unless the caller says otherwise.
Parsing rejects NaN, infinities and values that do not fit the columns, so bad input never reaches
the ledger.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation

from django.db import models

# Column precisions (max_digits, decimal_places).
QTY_DIGITS, QTY_PLACES = 20, 9  # Alpaca allows 9 decimal places on fractional shares.
PRICE_DIGITS, PRICE_PLACES = 20, 6
MONEY_DIGITS, MONEY_PLACES = 20, 6  # stored exact enough to reconcile; presented in cents.

CENT = Decimal("0.01")
QTY_QUANTUM = Decimal(1).scaleb(-QTY_PLACES)
PRICE_QUANTUM = Decimal(1).scaleb(-PRICE_PLACES)
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
ZERO = Decimal(0)

_MAX_QTY = Decimal(10) ** (QTY_DIGITS - QTY_PLACES)
_MAX_PRICE = Decimal(10) ** (PRICE_DIGITS - PRICE_PLACES)


class DecimalInputError(ValueError):
    """A value that cannot be a ledger quantity or price."""


def to_decimal(value: object, *, field: str = "value") -> Decimal:
    """Parse ``value`` strictly: finite, no floats' binary noise (floats go through ``repr``)."""
    if isinstance(value, bool):
        raise DecimalInputError(f"{field} must be a number")
    if isinstance(value, float):
        value = repr(value)
    try:
        result = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError) as exc:
        raise DecimalInputError(f"{field} must be a number") from exc
    if not result.is_finite():
        raise DecimalInputError(f"{field} must be a finite number")
    return result


def parse_qty(value: object, *, field: str = "qty") -> Decimal:
    qty = to_decimal(value, field=field)
    if qty <= 0:
        raise DecimalInputError(f"{field} must be greater than zero")
    if qty >= _MAX_QTY:
        raise DecimalInputError(f"{field} is too large")
    if qty != qty.quantize(QTY_QUANTUM, rounding=ROUND_DOWN):
        raise DecimalInputError(f"{field} has more than {QTY_PLACES} decimal places")
    return qty


def parse_price(value: object, *, field: str = "price") -> Decimal:
    price = to_decimal(value, field=field)
    if price <= 0:
        raise DecimalInputError(f"{field} must be greater than zero")
    if price >= _MAX_PRICE:
        raise DecimalInputError(f"{field} is too large")
    if price != price.quantize(PRICE_QUANTUM, rounding=ROUND_DOWN):
        raise DecimalInputError(f"{field} has more than {PRICE_PLACES} decimal places")
    return price


def quantize_money(value: Decimal, *, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    return value.quantize(MONEY_QUANTUM, rounding=rounding)


def quantize_cents(value: Decimal, *, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    return value.quantize(CENT, rounding=rounding)


def quantize_price(value: Decimal, *, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    return value.quantize(PRICE_QUANTUM, rounding=rounding)


def quantize_qty(value: Decimal, *, rounding: str = ROUND_DOWN) -> Decimal:
    return value.quantize(QTY_QUANTUM, rounding=rounding)


def whole_shares(value: Decimal) -> Decimal:
    """Round a share count toward zero to whole shares (equities without fractional trading)."""
    return value.to_integral_value(rounding=ROUND_DOWN)


def qty_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=QTY_DIGITS, decimal_places=QTY_PLACES, **kwargs)


def price_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES, **kwargs)


def money_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, **kwargs)
