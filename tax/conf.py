"""Tax settings from the environment (non-secret), read with the one typed reader (``trading_site.lib.env``).

- ``TAX_LOT_METHOD``: lot relief for platform fills — ``fifo`` (default; Alpaca's 1099-B uses FIFO),
  ``lifo`` or ``hifo``. Anything other than the broker's method is what-if analytics: the broker's
  1099-B remains the filed record. (Specific identification needs lot ids per sale, so it is only
  available to imports, through the ``lot_ids`` column.)
- ``TAX_WASH_SALE_BLOCK``: when true, the gateway's pre-trade check rejects an order that would
  trigger a wash sale (code ``WASH_SALE``). Off by default.
- ``TAX_BLOTTER_HOUR`` / ``TAX_BLOTTER_MINUTE``: New York time of the daily blotter job (16:30).
"""

from __future__ import annotations

from tax.engine import FIFO, HIFO, LIFO
from trading_site.lib.env import env_bool, env_enum, env_int

FILL_METHODS = (FIFO, LIFO, HIFO)

LOT_METHOD: str = env_enum("TAX_LOT_METHOD", FIFO, FILL_METHODS)
WASH_SALE_BLOCK: bool = env_bool("TAX_WASH_SALE_BLOCK", False)
BLOTTER_HOUR: int = env_int("TAX_BLOTTER_HOUR", 16, low=0, high=23)
BLOTTER_MINUTE: int = env_int("TAX_BLOTTER_MINUTE", 30, low=0, high=59)
