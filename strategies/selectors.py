"""Reads of market data for other apps (orders' simulated broker, risk, tax).

Values are returned as small frozen dataclasses with Decimals, never ORM objects, so callers do not
couple to the models.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from strategies.models import Asset, Bar


@dataclass(frozen=True, slots=True)
class AssetData:
    symbol: str
    tradable: bool
    fractionable: bool
    min_lot: Decimal


@dataclass(frozen=True, slots=True)
class BarData:
    symbol: str
    session: dt.date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal | None


def asset_get(*, symbol: str) -> AssetData | None:
    row = Asset.objects.filter(symbol=symbol.upper()).values("symbol", "tradable", "fractionable", "min_lot").first()
    return AssetData(**row) if row else None


def _bar(row: dict) -> BarData:
    return BarData(
        symbol=row["asset__symbol"],
        session=row["session"],
        open=row["open"],
        high=row["high"],
        low=row["low"],
        close=row["close"],
        volume=row["volume"],
    )


_BAR_FIELDS = ("asset__symbol", "session", "open", "high", "low", "close", "volume")


def daily_bar(*, symbol: str, session: dt.date) -> BarData | None:
    row = Bar.objects.filter(asset__symbol=symbol.upper(), session=session).values(*_BAR_FIELDS).first()
    return _bar(row) if row else None


def latest_daily_bar(*, symbol: str, on_or_before: dt.date) -> BarData | None:
    row = (
        Bar.objects.filter(asset__symbol=symbol.upper(), session__lte=on_or_before)
        .order_by("-session")
        .values(*_BAR_FIELDS)
        .first()
    )
    return _bar(row) if row else None


def daily_bars(*, symbol: str, start: dt.date, end: dt.date) -> list[BarData]:
    rows = Bar.objects.filter(asset__symbol=symbol.upper(), session__gte=start, session__lte=end).order_by("session")
    return [_bar(r) for r in rows.values(*_BAR_FIELDS)]


def average_daily_volume(*, symbol: str, before: dt.date, days: int = 20) -> Decimal | None:
    """Mean volume of the ``days`` sessions before ``before``; None when the source has no volume."""
    vols = list(
        Bar.objects.filter(asset__symbol=symbol.upper(), session__lt=before, volume__isnull=False)
        .order_by("-session")
        .values_list("volume", flat=True)[:days]
    )
    return (sum(vols) / len(vols)) if vols else None
