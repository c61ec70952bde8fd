"""The market-data provider of the deployment: one refresh the data step calls, whatever feeds the bars.

- ``BROKER=alpaca``: Alpaca's daily bars (:func:`marketdata.alpaca_data.bars_refresh_alpaca`);
- the simulated exchange with the demo market on (the embedded default): the bundled history re-dated
  to today (:func:`marketdata.demo_market.demo_bars_refresh`);
- otherwise nothing is fetched: bars come from imports (bundled data, CSV) and the freshness check says
  whether they are recent enough.

Both providers store only finished sessions and land in the same ``Bar`` table, so the data step's
freshness check, the quality gates and the strategies read them the same way.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from marketdata import demo_market


def provider_name() -> str:
    if settings.BROKER == "alpaca":
        return "alpaca"
    return "demo-market" if demo_market.enabled() else "stored"


def market_data_refresh(*, end: dt.date, symbols: list[str]) -> dict:
    """Bring the stored daily bars up to ``end`` from the configured provider; returns a summary."""
    name = provider_name()
    if name == "alpaca":
        from marketdata.alpaca_data import bars_refresh_alpaca  # alpaca-py is imported only when used

        summary = bars_refresh_alpaca(end=end, symbols=symbols)
        return {"provider": name, "bars": summary.bars}
    if name == "demo-market":
        return {"provider": name, "bars": demo_market.demo_bars_refresh(end=end)}
    return {"provider": name, "bars": 0}
