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


# Audited objects link to the console page that shows them (object_type is ``app_label.model``).
_OBJECT_PAGES = {
    "orders.order": ("order", "/orders/{id}/"),
    "strategies.strategy": ("strategy", "/strategies/#strategy-{id}"),
    "strategies.strategysymbol": ("strategy symbol", "/strategies/"),
    "strategies.rebalancerun": ("rebalance run", "/runs/"),
    "risk.killswitch": ("kill switch", "/risk/"),
    "risk.circuitbreaker": ("circuit breaker", "/risk/"),
    "risk.risklimits": ("risk limits", "/risk/"),
}


@register.inclusion_tag("console/_object_link.html")
def object_link(object_type: str, object_id) -> dict:
    """"orders.order #10" as a link "order #10" to /orders/10/; unknown types as plain text."""
    label, url = _OBJECT_PAGES.get(object_type, (object_type, ""))
    id_text = str(object_id or "")
    return {"label": label, "object_id": id_text,
            "url": url.format(id=id_text) if url and (id_text.isdigit() or "{id}" not in url) else ""}


@register.filter
def short_id(value, keep: int = 8) -> str:
    """A long client order id shortened for a table cell: its last ``keep`` characters after an ellipsis."""
    text = str(value or "")
    return text if len(text) <= keep + 1 else "…" + text[-keep:]
