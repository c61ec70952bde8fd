"""Alpaca provider: daily bars through alpaca-py's ``StockHistoricalDataClient`` / ``StockBarsRequest``.

Raw bars are requested (``Adjustment.RAW``) because bars are stored as traded. Split events are
derived the same way as for the bundled OHLCV file: the same range is also requested split-adjusted
and a jump in the ``raw / adjusted`` close ratio between sessions is a split
(:func:`marketdata.data_import.splits_from_adjusted`). The feed is configurable (``ALPACA_DATA_FEED``,
IEX by default — the free feed); credentials come from the secrets layer (``ALPACA_API_KEY``,
``ALPACA_SECRET_KEY``). Everything lands through :func:`marketdata.data_import.bars_import`, so the
same validation and one-transaction rule apply.

Only completed sessions are fetched: a daily bar requested before its session's close (the 15:45
rebalance) is the day so far, not the day, and storing it would leave a wrong close and volume in
the history (later refreshes start the day after the latest stored bar). ``end`` is clamped to the
last session whose close has passed on the platform clock (``marketdata.market_clock``); today's bar is
fetched by the first refresh after the close.
"""

from __future__ import annotations

import datetime as dt

from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame

from marketdata import conf, market_clock
from marketdata.data_import import (
    BarFileError,
    BarRow,
    Existing,
    ImportSummary,
    ParsedBars,
    bars_import,
    splits_from_adjusted,
)
from marketdata.models import Asset, Bar
from trading_site.lib import broker_budget, clock
from trading_site.lib.clock import NEW_YORK
from trading_site.lib.money import DecimalInputError, parse_price, quantize_price, quantize_qty, to_decimal
from trading_site.secret_store import get_secret

SOURCE = "alpaca"


DATA_TIMEOUT_SECONDS = 30.0  # a bars page of 500 symbols is large; alpaca-py itself sets no timeout


def alpaca_data_client(*, url_override: str | None = None) -> StockHistoricalDataClient:
    """A data client whose every request takes from the deployment's shared broker-request budget."""
    client = StockHistoricalDataClient(
        api_key=get_secret("ALPACA_API_KEY"),
        secret_key=get_secret("ALPACA_SECRET_KEY"),
        url_override=url_override or conf.ALPACA_DATA_URL,
    )
    broker_budget.session_install(client._session, timeout=DATA_TIMEOUT_SECONDS)
    return client


def _request(symbols: list[str], start: dt.date, end: dt.date, feed: str, adjustment: Adjustment) -> StockBarsRequest:
    return StockBarsRequest(
        symbol_or_symbols=symbols,
        timeframe=TimeFrame.Day,
        start=dt.datetime.combine(start, dt.time(0, 0), tzinfo=NEW_YORK),
        end=dt.datetime.combine(end, dt.time(23, 59), tzinfo=NEW_YORK),
        adjustment=adjustment,
        feed=DataFeed(feed),
    )


def _price(value: float, *, symbol: str, session: dt.date, name: str):
    # Alpaca sends floats: round to the price precision first, then apply the ledger's price rules
    try:
        return parse_price(quantize_price(to_decimal(value, field=name)), field=name)
    except DecimalInputError as exc:
        raise BarFileError(f"Alpaca bar {symbol} {session}: {exc}") from None


def alpaca_bars_fetch(
    *,
    symbols: list[str],
    start: dt.date,
    end: dt.date,
    feed: str | None = None,
    client: StockHistoricalDataClient | None = None,
) -> ParsedBars:
    """Raw daily bars for ``symbols`` over [start, end] with split events derived from Alpaca's adjusted series.

    Sessions not closed yet at the clock's now are left out (``end`` is clamped to the last
    completed session), so no unfinished bar is ever returned."""
    if not symbols:
        raise ValueError("symbols must not be empty")
    if start > end:
        raise ValueError("start must not be after end")
    completed = market_clock.last_completed_session(clock.now())
    end = min(end, completed)
    if start > end:
        return ParsedBars()
    feed = (feed or conf.ALPACA_DATA_FEED).lower()
    if feed not in ("iex", "sip"):
        raise ValueError(f"feed must be iex or sip, not {feed!r}")
    symbols = sorted({s.upper() for s in symbols})
    client = client or alpaca_data_client()
    raw = client.get_stock_bars(_request(symbols, start, end, feed, Adjustment.RAW))
    adjusted = client.get_stock_bars(_request(symbols, start, end, feed, Adjustment.SPLIT))
    parsed = ParsedBars()
    for symbol in symbols:
        series = []
        adjusted_close = {bar.timestamp.astimezone(NEW_YORK).date(): bar.close for bar in adjusted.data.get(symbol, [])}
        for bar in raw.data.get(symbol, []):
            session = bar.timestamp.astimezone(NEW_YORK).date()
            if session > completed:  # never stored as final before its close
                continue
            row = BarRow(
                symbol=symbol,
                session=session,
                open=_price(bar.open, symbol=symbol, session=session, name="open"),
                high=_price(bar.high, symbol=symbol, session=session, name="high"),
                low=_price(bar.low, symbol=symbol, session=session, name="low"),
                close=_price(bar.close, symbol=symbol, session=session, name="close"),
                volume=quantize_qty(to_decimal(bar.volume)) if bar.volume is not None else None,
            )
            if not (row.low <= row.open <= row.high and row.low <= row.close <= row.high):
                raise BarFileError(f"Alpaca bar {symbol} {session}: inconsistent OHLC")
            parsed.bars.append(row)
            if session in adjusted_close:
                series.append(
                    (
                        session,
                        row.close,
                        _price(adjusted_close[session], symbol=symbol, session=session, name="adjusted close"),
                    )
                )
        parsed.splits.extend(splits_from_adjusted(symbol=symbol, series=series))
    return parsed


def bars_import_alpaca(
    *,
    symbols: list[str],
    start: dt.date,
    end: dt.date,
    feed: str | None = None,
    client: StockHistoricalDataClient | None = None,
    existing: Existing = "refuse",
) -> ImportSummary:
    """Fetch then import atomically (a bad bar anywhere stores nothing)."""
    parsed = alpaca_bars_fetch(symbols=symbols, start=start, end=end, feed=feed, client=client)
    if not parsed.bars:
        return ImportSummary(source=SOURCE, symbols=(), bars=0, splits=0)
    return bars_import(parsed=parsed, source=SOURCE, existing=existing)


def bars_refresh_alpaca(
    *,
    end: dt.date,
    symbols: list[str] | None = None,
    history_days: int = 400,
    client: StockHistoricalDataClient | None = None,
) -> ImportSummary:
    """The rebalance's data step in production: fetch what is missing up to ``end`` (at most the
    last completed session) and upsert it.

    ``symbols`` defaults to every tradable asset. Each request starts the day after the oldest
    "latest bar" among the symbols (or ``history_days`` before ``end`` for a symbol without bars),
    so one call per day is two HTTP requests; re-fetched sessions are upserted unchanged. Symbols
    whose bars came from another source (the bundled demo data) are refused by the source rule.
    """
    from django.db.models import Max

    if symbols is None:
        symbols = list(Asset.objects.filter(tradable=True).order_by("symbol").values_list("symbol", flat=True))
    symbols = sorted({s.upper() for s in symbols})
    if not symbols:
        return ImportSummary(source=SOURCE, symbols=(), bars=0, splits=0)
    latest = dict(
        Bar.objects.filter(asset__symbol__in=symbols)
        .values("asset__symbol")
        .annotate(latest=Max("session"))
        .values_list("asset__symbol", "latest")
    )
    end = min(end, market_clock.last_completed_session(clock.now()))  # a session still trading: not yet
    fallback = end - dt.timedelta(days=history_days)
    start = min(latest[s] + dt.timedelta(days=1) if s in latest else fallback for s in symbols)
    if start > end:
        return ImportSummary(source=SOURCE, symbols=tuple(symbols), bars=0, splits=0)
    return bars_import_alpaca(symbols=symbols, start=start, end=end, client=client)
