"""The demo market: the bundled real history re-dated onto today's NYSE calendar (docs/CONCEPTS/demo-market.md).

The embedded default trades on the simulated exchange, and the bundled prices end on 2022-12-28. The
demo market is a market-data provider for that default (``DEMO_MARKET``, on by default only in the
embedded mode with the simulated broker; never with ``BROKER=alpaca``):

Mapping (pure, deterministic, no stored state)
    Demo sessions are the NYSE (XNYS) sessions from :data:`FIRST_DEMO_SESSION` (the first session after
    the bundled file's last one) onward. The k-th demo session shows the real prices of the bundled
    session ``CYCLE[(FIRST_INDEX + k) mod len(CYCLE)]``, where ``CYCLE`` is the file's sessions from
    :data:`CYCLE_START` to its end and ``FIRST_INDEX`` the position of :data:`FIRST_ORIGINAL`. Session by
    session, so weekends and holidays of both calendars line up; a restart, another process or a test
    always computes the same mapping. The cycle wraps after about 20 years of demo sessions.

Bars
    :func:`demo_bars_refresh` is the provider's refresh (the data step calls it through
    :func:`marketdata.providers.market_data_refresh`, as it calls Alpaca's): it stores the re-dated bars
    of every *finished* demo session (its close has passed on the platform clock) up to ``end``, never an
    unfinished one. A stored demo bar keeps its real date in ``Bar.original_session`` and its source (the
    bundled file's): ``close`` is the file's real close of that day, ``open`` the real close of the day
    before (the 20-stock file has closes only), ``high``/``low`` the larger/smaller of the two. Demo bars
    live on dates after the bundled history, so the original-dated bars stay untouched for replay.

Intraday
    Today's session is not stored until it ends; :func:`demo_bar` gives the simulated exchange the bar its
    seeded intraday path follows (the same ``path_price`` as for any bar), so quotes move through the
    session in market time — the platform clock, which ``DEMO_DAY_MINUTES`` speeds up.

Labels
    :func:`demo_label` — "demo market — real prices of 2021-06-14" — is shown beside every price and bar
    date of a demo session (console banner and date filter, API header, CLI).
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools

import pandas as pd
from django.conf import settings
from django.db.models import Max

from marketdata import conf
from marketdata.bundled import BENCHMARK_SYMBOL, INDEX_FILE, SOURCE_DEMO, SOURCE_INDEX
from marketdata.data_import import open_text
from marketdata.models import Asset, Bar
from marketdata.selectors import BarData
from trading_site.lib import clock

CALENDAR = "XNYS"
FIRST_DEMO_SESSION = dt.date(2022, 12, 29)  # the first NYSE session after the bundled file's last (2022-12-28)
CYCLE_START = dt.date(2003, 1, 2)  # every one of the 20 stocks and the index has a price from here on
FIRST_ORIGINAL = dt.date(2017, 1, 3)  # the real day shown on the first demo session
SOURCES = (SOURCE_DEMO, SOURCE_INDEX)
LABEL = "demo market — real prices of {original}"


def enabled() -> bool:
    """The demo market feeds the simulated exchange; with Alpaca it is never used."""
    return conf.DEMO_MARKET and settings.BROKER == "simulated"


@functools.cache
def original_sessions() -> tuple[dt.date, ...]:
    """Every session of the bundled file, in order (read once from the index file's date column)."""
    with open_text(INDEX_FILE) as handle:
        next(handle)
        return tuple(dt.date.fromisoformat(line.split(",", 1)[0]) for line in handle if line.strip())


@functools.cache
def _cycle() -> tuple[tuple[dt.date, ...], int]:
    sessions = original_sessions()
    start = bisect.bisect_left(sessions, CYCLE_START)
    cycle = sessions[start:]
    return cycle, cycle.index(FIRST_ORIGINAL)


@functools.cache
def _calendar():
    import exchange_calendars as xcals

    return xcals.get_calendar(CALENDAR, start=FIRST_DEMO_SESSION.isoformat())


def demo_sessions(*, end: dt.date) -> list[dt.date]:
    """Demo sessions from :data:`FIRST_DEMO_SESSION` to ``end`` (inclusive)."""
    return list(_demo_sessions(end))


@functools.lru_cache(maxsize=16)
def _demo_sessions(end: dt.date) -> tuple[dt.date, ...]:
    if end < FIRST_DEMO_SESSION:
        return ()
    cal = _calendar()
    end = min(end, cal.last_session.date())
    return tuple(ts.date() for ts in cal.sessions_in_range(pd.Timestamp(FIRST_DEMO_SESSION), pd.Timestamp(end)))


@functools.lru_cache(maxsize=4096)
def original_for(session: dt.date) -> dt.date | None:
    """The real date whose prices the demo session ``session`` shows; None when it is not a demo session."""
    if session < FIRST_DEMO_SESSION:
        return None
    cal = _calendar()
    ts = pd.Timestamp(session)
    if ts > cal.last_session or not cal.is_session(ts):
        return None
    k = cal.sessions_distance(pd.Timestamp(FIRST_DEMO_SESSION), ts) - 1
    cycle, first = _cycle()
    return cycle[(first + k) % len(cycle)]


def _previous_original(original: dt.date) -> dt.date | None:
    sessions = original_sessions()
    i = bisect.bisect_left(sessions, original)
    return sessions[i - 1] if i > 0 else None


def session_finished(session: dt.date, *, now: dt.datetime) -> bool:
    close = _calendar().session_close(pd.Timestamp(session)).to_pydatetime()
    return close <= now


def latest_finished_session(*, now: dt.datetime) -> dt.date | None:
    """The last demo session whose close has passed at ``now``."""
    today = now.astimezone(clock.NEW_YORK).date()
    for session in reversed(demo_sessions(end=today)[-3:]):
        if session_finished(session, now=now):
            return session
    return None


def _demo_row(*, symbol: str, session: dt.date, original: dt.date, close, previous_close) -> BarData:
    open_ = previous_close if previous_close is not None else close
    return BarData(symbol=symbol, session=session, open=open_, high=max(open_, close), low=min(open_, close),
                   close=close, volume=None)


def _original_closes(originals: set[dt.date]) -> dict[tuple[str, dt.date], object]:
    """Real closes of the bundled dataset on ``originals`` (original-dated rows only)."""
    if not originals:
        return {}
    rows = (
        Bar.objects.filter(source__in=SOURCES, original_session__isnull=True, session__in=sorted(originals))
        .order_by()
        .values_list("asset__symbol", "session", "close")
    )
    return {(symbol, session): close for symbol, session, close in rows}


def demo_bars_refresh(*, end: dt.date, now: dt.datetime | None = None) -> int:
    """Store the re-dated bars of every finished demo session up to ``end`` that is not stored yet.

    Idempotent (the (asset, session) unique constraint settles a concurrent refresh); returns how many
    bars it stored. Needs the bundled demo dataset (``setup_demo`` loads it).
    """
    now = now or clock.now()
    latest_finished = latest_finished_session(now=now)
    if latest_finished is None:
        return 0
    upto = min(end, latest_finished)
    stored = Bar.objects.filter(asset__symbol=BENCHMARK_SYMBOL, original_session__isnull=False).aggregate(
        last=Max("session"))["last"]
    todo = [s for s in demo_sessions(end=upto) if stored is None or s > stored]
    if not todo:
        return 0
    mapping = {s: original_for(s) for s in todo}
    previous = {o: _previous_original(o) for o in mapping.values()}
    closes = _original_closes(set(mapping.values()) | {p for p in previous.values() if p is not None})
    assets = dict(Asset.objects.filter(symbol__in={sym for sym, _ in closes}).values_list("symbol", "id"))
    sources = dict(
        Bar.objects.filter(source__in=SOURCES, original_session__isnull=True, asset__symbol__in=list(assets))
        .order_by().values_list("asset__symbol", "source").distinct()
    )
    bars = []
    for session, original in mapping.items():
        for symbol, asset_id in assets.items():
            close = closes.get((symbol, original))
            if close is None:
                continue
            row = _demo_row(symbol=symbol, session=session, original=original, close=close,
                            previous_close=closes.get((symbol, previous[original])))
            bars.append(Bar(asset_id=asset_id, session=session, open=row.open, high=row.high, low=row.low,
                            close=row.close, volume=None, source=sources[symbol], original_session=original))
    Bar.objects.bulk_create(bars, batch_size=2000, ignore_conflicts=True)
    return len(bars)


def demo_bar(*, symbol: str, session: dt.date) -> BarData | None:
    """The bar of a demo session (stored or not yet): what the intraday path of ``session`` follows."""
    original = original_for(session)
    if original is None:
        return None
    previous = _previous_original(original)
    symbol = symbol.upper()
    closes = dict(
        Bar.objects.filter(asset__symbol=symbol, source__in=SOURCES, original_session__isnull=True,
                           session__in=[d for d in (original, previous) if d is not None])
        .order_by().values_list("session", "close")
    )
    if original not in closes:
        return None
    return _demo_row(symbol=symbol, session=session, original=original, close=closes[original],
                     previous_close=closes.get(previous))


def original_of(day: dt.date | None) -> dt.date | None:
    """The real date behind a demo session's prices (None when the demo market is off or ``day`` is not one)."""
    if day is None or not enabled():
        return None
    return original_for(day)


def current_session(*, now: dt.datetime | None = None) -> dt.date | None:
    """Today's demo session, or the last one before today (what a quote's price comes from)."""
    now = now or clock.now()
    sessions = demo_sessions(end=now.astimezone(clock.NEW_YORK).date())
    return sessions[-1] if sessions else None


def demo_label(day: dt.date | None = None) -> str:
    """"demo market — real prices of 2021-06-14" for ``day`` (default: the current session); "" when not demo."""
    if not enabled():
        return ""
    original = original_for(day) if day is not None else original_for(current_session() or FIRST_DEMO_SESSION)
    return LABEL.format(original=original.isoformat()) if original else ""
