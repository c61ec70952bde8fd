"""Demo-market labels for console pages: one place, so every dated price says which real day it is.

- ``{% demo_market_banner %}``: "demo market — real prices of 2021-06-14" for the current session (empty
  when the demo market is off); base.html shows it on every page, beside the live prices.
- ``{{ day|demo_original }}``: " (demo market — real prices of …)" after a bar date or a run day.
"""

from __future__ import annotations

from django import template

from marketdata.demo_market import demo_label

register = template.Library()


@register.simple_tag
def demo_market_banner() -> str:
    return demo_label()


@register.filter
def demo_original(day) -> str:
    if not day:
        return ""
    label = demo_label(day.date() if hasattr(day, "date") and callable(day.date) else day)
    return f" ({label})" if label else ""
