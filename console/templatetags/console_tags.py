"""Presentation filters for the console: money with thousands separators, signed P&L, quantities."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import template

register = template.Library()
CENT = Decimal("0.01")


def _dec(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


@register.filter
def money(value) -> str:
    """1234.5 → "1,234.50"; None → "—"."""
    d = _dec(value)
    if d is None:
        return "—"
    return f"{d.quantize(CENT, rounding=ROUND_HALF_UP):,}"


@register.filter
def signed_money(value) -> str:
    """P&L with an explicit sign: "+12.30", "-4.00"."""
    d = _dec(value)
    if d is None:
        return "—"
    q = d.quantize(CENT, rounding=ROUND_HALF_UP)
    return f"+{q:,}" if q > 0 else f"{q:,}"


@register.filter
def pnl_class(value) -> str:
    d = _dec(value)
    if d is None or d == 0:
        return ""
    return "ok" if d > 0 else "bad"


@register.filter
def qty(value) -> str:
    """Quantities without trailing zeros: 10.000000 → "10", 0.5 → "0.5"."""
    d = _dec(value)
    if d is None:
        return "—"
    text = f"{d.normalize():f}"
    return "0" if text == "-0" else text


@register.filter
def pct(value, places: int = 2) -> str:
    """A fraction as a percentage: 0.02 → "2.00%"."""
    d = _dec(value)
    if d is None:
        return "—"
    return f"{(d * 100).quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)}%"


@register.filter
def get_item(mapping, key):
    """``{{ dict|get_item:key }}`` — None when absent."""
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def isotime(value) -> str:
    """An ISO-8601 timestamp string as "YYYY-MM-DD HH:MM:SS" (the selectors of other apps return ISO text)."""
    if not value:
        return "—"
    return str(value)[:19].replace("T", " ")
