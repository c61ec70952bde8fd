"""Non-secret settings of market data, read with the one typed reader (``trading_site.lib.env``).

- ``ALPACA_DATA_FEED``: ``iex`` (default, free) or ``sip`` — the feed for Alpaca bar requests.
- ``ALPACA_DATA_URL``: optional override of Alpaca's market-data base URL (a proxy, or the local fake).
- ``DEMO_MARKET``: the demo market (bundled history re-dated to today, docs/CONCEPTS/demo-market.md) feeds
  the simulated exchange; default true in the embedded mode, false otherwise; never used with Alpaca.
- ``RISK_CALENDAR_START`` / ``RISK_CALENDAR_END``: the NYSE calendar range of the market clock
  (replays reach back to 1990).
"""

from __future__ import annotations

from trading_site.lib.env import env_bool, env_enum, env_str

ALPACA_DATA_FEED = env_enum("ALPACA_DATA_FEED", "iex", ("iex", "sip"))
ALPACA_DATA_URL = env_str("ALPACA_DATA_URL") or None
DEMO_MARKET = env_bool("DEMO_MARKET", env_str("DJANGO_ENV", "embedded") == "embedded")
CALENDAR_START = env_str("RISK_CALENDAR_START", "1990-01-01")
CALENDAR_END = env_str("RISK_CALENDAR_END", "2032-12-31")
