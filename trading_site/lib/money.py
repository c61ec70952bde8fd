"""Decimal rules for the ledger, in one place.

Money and quantities are ``Decimal`` end to end. Database columns use the precisions below; the
quantize helpers round with banker's rounding (ROUND_HALF_EVEN) unless the caller says otherwise.
Parsing (:func:`to_decimal` and the ``parse_*`` helpers built on it) is the one strict parser of
numbers from outside: ASCII digits, one optional sign and decimal point, bounded precision and
magnitude; NaN, infinities, exponents, ``_`` and non-ASCII digits are refused, so bad input never
reaches the ledger.
"""

from __future__ import annotations

import re
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
MAX_MONEY = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES - 1)

# Input bounds (docs/ADRs/0021): an order of a billion shares or a price of ten million a share is a
# typo, and keeping qty × price within 16 integer digits keeps every product exact in Decimal's
# default 28-digit context.
QTY_LIMIT = Decimal(10) ** 9  # exclusive
PRICE_LIMIT = Decimal(10) ** 7  # exclusive
# The longest number text accepted (sign, 20 digits, point, 9 places and some leading zeros).
MAX_NUMBER_CHARS = 40
# The one grammar of a number typed or sent as text: ASCII digits, at most one leading sign, at most
# one decimal point. No exponent, no "_" separators, no spaces, no other scripts' digits, no
# NaN/Infinity, no hexadecimal.
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
NUMBER_FORMAT_MESSAGE = "must be a number: plain ASCII digits, an optional sign and decimal point"
_NOT_FINITE = frozenset({"nan", "snan", "inf", "infinity"})


class DecimalInputError(ValueError):
    """A value that cannot be a ledger quantity or price."""


def to_decimal(value: object, *, field: str = "value") -> Decimal:
    """THE parser of money and quantities from outside (API, console forms, CSV files, commands).

    Text must match the one grammar above exactly (no surrounding spaces either: a CSV cell or a
    form field with stray characters is refused, not guessed at). JSON numbers (int, float) are
    taken as the JSON parser gave them (floats through ``repr``, so 0.1 is 0.1); Decimals as they
    are. The result is finite; callers bound sign, precision and magnitude (:func:`parse_decimal`).
    """
    if isinstance(value, bool):
        raise DecimalInputError(f"{field} must be a number")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        if abs(value) >= 10**MAX_NUMBER_CHARS:
            raise DecimalInputError(f"{field} is too large")
        result = Decimal(value)
    elif isinstance(value, float):
        try:
            result = Decimal(repr(value))
        except InvalidOperation as exc:
            raise DecimalInputError(f"{field} must be a number") from exc
    elif isinstance(value, str):
        if len(value) > MAX_NUMBER_CHARS or not _NUMBER_RE.fullmatch(value):
            if value.strip().lstrip("+-").lower() in _NOT_FINITE:
                raise DecimalInputError(f"{field} must be a finite number")
            raise DecimalInputError(f"{field} {NUMBER_FORMAT_MESSAGE}")
        result = Decimal(value)
    else:
        raise DecimalInputError(f"{field} must be a number")
    if not result.is_finite():
        raise DecimalInputError(f"{field} must be a finite number")
    return result


def parse_decimal(value: object, *, field: str, places: int, max_abs: Decimal, min_value: Decimal | None = None,
                  positive: bool = False) -> Decimal:
    """:func:`to_decimal`, then bounded: at most ``places`` decimal places, ``|x| < max_abs``, and
    ``x > 0`` (``positive``) or ``x >= min_value``."""
    result = to_decimal(value, field=field)
    if positive and result <= 0:
        raise DecimalInputError(f"{field} must be greater than zero")
    if min_value is not None and result < min_value:
        raise DecimalInputError(f"{field} must be at least {min_value}")
    if abs(result) >= max_abs:
        raise DecimalInputError(f"{field} is too large (less than {max_abs:,} in absolute value)")
    if result != result.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN):
        raise DecimalInputError(f"{field} has more than {places} decimal places")
    return result


def parse_qty(value: object, *, field: str = "qty") -> Decimal:
    return parse_decimal(value, field=field, places=QTY_PLACES, max_abs=QTY_LIMIT, positive=True)


def parse_price(value: object, *, field: str = "price") -> Decimal:
    return parse_decimal(value, field=field, places=PRICE_PLACES, max_abs=PRICE_LIMIT, positive=True)


def parse_money(value: object, *, field: str = "amount") -> Decimal:
    """An amount of money (a commission, a cash figure): may be zero or negative, 6 places at most."""
    return parse_decimal(value, field=field, places=MONEY_PLACES, max_abs=MAX_MONEY)


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
