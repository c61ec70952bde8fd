"""Test helper: run with only some of the gateway's pre-trade checks and no fill listeners (other apps
test theirs); the registries are restored exactly afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from orders import events, pretrade
from orders.selectors import price_cache_clear


@contextlib.contextmanager
def hooks_narrowed(*, keep_checks: str | None) -> Iterator[None]:
    """Only the pre-trade checks named ``<keep_checks>...`` (none when ``None``) and no fill
    listeners while inside; the registries are restored exactly afterwards."""
    saved_checks, saved_listeners = dict(pretrade._checks), dict(events._listeners)
    for name in list(pretrade._checks):
        if keep_checks is None or not name.startswith(keep_checks):
            pretrade._checks.pop(name)
    events._listeners.clear()
    price_cache_clear()
    try:
        yield
    finally:
        pretrade._checks.clear()
        pretrade._checks.update(saved_checks)
        events._listeners.clear()
        events._listeners.update(saved_listeners)
        price_cache_clear()
