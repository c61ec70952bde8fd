"""Tax settings from the environment (non-secret), validated loudly at import.

- ``TAX_LOT_METHOD``: lot relief for platform fills — ``fifo`` (default; Alpaca's 1099-B uses FIFO),
  ``lifo`` or ``hifo``. Anything other than the broker's method is what-if analytics: the broker's
  1099-B remains the filed record. (Specific identification needs lot ids per sale, so it is only
  available to imports, through the ``lot_ids`` column.)
- ``TAX_WASH_SALE_BLOCK``: when true, the gateway's pre-trade check rejects an order that would
  trigger a wash sale (code ``WASH_SALE``). Off by default.
- ``TAX_BLOTTER_HOUR`` / ``TAX_BLOTTER_MINUTE``: New York time of the daily blotter job (16:30).
"""

from __future__ import annotations

import environ
from django.core.exceptions import ImproperlyConfigured

from tax.engine import FIFO, HIFO, LIFO

_env = environ.Env()

FILL_METHODS = (FIFO, LIFO, HIFO)

LOT_METHOD: str = _env.str("TAX_LOT_METHOD", default=FIFO).strip().lower()
if LOT_METHOD not in FILL_METHODS:
    raise ImproperlyConfigured(f"TAX_LOT_METHOD must be one of {', '.join(FILL_METHODS)}, not {LOT_METHOD!r}")

WASH_SALE_BLOCK: bool = _env.bool("TAX_WASH_SALE_BLOCK", default=False)

BLOTTER_HOUR: int = _env.int("TAX_BLOTTER_HOUR", default=16)
BLOTTER_MINUTE: int = _env.int("TAX_BLOTTER_MINUTE", default=30)
if not (0 <= BLOTTER_HOUR <= 23 and 0 <= BLOTTER_MINUTE <= 59):
    raise ImproperlyConfigured("TAX_BLOTTER_HOUR/TAX_BLOTTER_MINUTE must be a valid time of day")
