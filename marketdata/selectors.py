"""Reads of market data for other apps (orders' simulated broker, risk, tax, strategies, workflow).

Values are returned as small frozen dataclasses with Decimals, never ORM objects, so callers do not
couple to the models.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from marketdata.models import Asset, Bar
from trading_site.lib.sql import fetch_one


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


_ASSET_SQL = f"SELECT symbol, tradable, fractionable, min_lot FROM {Asset._meta.db_table} WHERE symbol = %s"


def asset_get(*, symbol: str) -> AssetData | None:
    # Every order validates its symbol here: plain SQL (see trading_site.lib.sql). SQLite hands
    # back 0/1 and numbers for booleans and decimals, hence the conversions.
    row = fetch_one(_ASSET_SQL, [symbol.upper()])
    if row is None:
        return None
    return AssetData(symbol=row[0], tradable=bool(row[1]), fractionable=bool(row[2]), min_lot=Decimal(str(row[3])))


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


def session_bar(*, symbol: str, session: dt.date) -> BarData | None:
    """The bar the simulated exchange's intraday path follows on ``session``.

    With the demo market it is the demo session's re-dated bar (today's too, before it is stored);
    otherwise, and on days that are not demo sessions, the latest stored bar on or before ``session``.
    """
    from marketdata import demo_market  # demo_market builds BarData from this module (a cycle inside this app)

    if demo_market.enabled():
        bar = demo_market.demo_bar(symbol=symbol, session=session)
        if bar is not None:
            return bar
    return latest_daily_bar(symbol=symbol, on_or_before=session)


ADV_DAYS = 20  # the sessions an average daily volume is taken over


def volume_mean(volumes: Iterable[Decimal | None], *, days: int = ADV_DAYS) -> Decimal | None:
    """The average-daily-volume rule: the mean of the first ``days`` known volumes of ``volumes``
    (newest first; a session without volume is skipped, a zero counts); None when none is known.
    One rule for the database's bars (:func:`average_daily_volume`) and a replay's bars in memory."""
    known = list(itertools.islice((v for v in volumes if v is not None), days))
    return sum(known, Decimal(0)) / len(known) if known else None


def average_daily_volume(*, symbol: str, before: dt.date, days: int = ADV_DAYS) -> Decimal | None:
    """Mean volume of the ``days`` sessions with volume before ``before`` (:func:`volume_mean`)."""
    return volume_mean(
        Bar.objects.filter(asset__symbol=symbol.upper(), session__lt=before, volume__isnull=False)
        .order_by("-session")
        .values_list("volume", flat=True)[:days],
        days=days,
    )


def bars_recent(
    *, symbol: str, start: dt.date | None = None, end: dt.date | None = None, limit: int = 250
) -> list[BarData]:
    """The latest ``limit`` raw bars of ``symbol`` within [start, end], oldest first."""
    qs = Bar.objects.filter(asset__symbol=symbol.upper())
    if start is not None:
        qs = qs.filter(session__gte=start)
    if end is not None:
        qs = qs.filter(session__lte=end)
    rows = list(qs.order_by("-session").values(*_BAR_FIELDS)[:limit])
    return [_bar(r) for r in reversed(rows)]
