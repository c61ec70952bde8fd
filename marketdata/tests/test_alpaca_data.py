"""Alpaca bars through alpaca-py against the local fake market-data server."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from alpaca.data.historical import StockHistoricalDataClient

from marketdata.alpaca_data import alpaca_data_client, bars_import_alpaca, bars_refresh_alpaca
from marketdata.data_import import BarFileError
from marketdata.models import Bar, CorporateAction
from tests.fakes.alpaca_data import FakeAlpacaData, FakeBar, FakeMarketData

SESSIONS = [dt.date(2024, 6, d) for d in (3, 4, 5, 6, 7, 10, 11)]


def market() -> FakeMarketData:
    # NVDA's real 10:1 split took effect on 2024-06-10: raw prices drop from ~1200 to ~120
    nvda = [
        FakeBar(SESSIONS[0], 1136.0, 1150.0, 1120.0, 1150.0, 400),
        FakeBar(SESSIONS[1], 1150.0, 1166.0, 1140.0, 1164.37, 410),
        FakeBar(SESSIONS[2], 1180.0, 1225.0, 1178.0, 1224.4, 420),
        FakeBar(SESSIONS[3], 1224.0, 1255.0, 1200.0, 1209.98, 430),
        FakeBar(SESSIONS[4], 1197.0, 1216.0, 1180.0, 1208.88, 440),
        FakeBar(SESSIONS[5], 120.37, 123.1, 117.01, 121.79, 4500),
        FakeBar(SESSIONS[6], 121.77, 122.87, 118.74, 120.91, 4600),
    ]
    spy = [FakeBar(s, 530.0 + i, 531.5 + i, 529.0 + i, 531.0 + i, 1000 + i) for i, s in enumerate(SESSIONS)]
    return FakeMarketData(bars={"NVDA": nvda, "SPY": spy}, splits={"NVDA": [(dt.date(2024, 6, 10), 10.0)]}, page_size=5)


@pytest.fixture
def fake():
    with FakeAlpacaData(market()) as server:
        yield server


def client_for(fake) -> StockHistoricalDataClient:
    return StockHistoricalDataClient(api_key="key-id", secret_key="secret", url_override=fake.url)


@pytest.mark.slow  # over 1.5 s here: kept out of make test-fast
def test_raw_bars_are_imported_with_the_split_derived_and_iex_by_default(db, fake):
    summary = bars_import_alpaca(symbols=["nvda", "SPY"], start=SESSIONS[0], end=SESSIONS[-1], client=client_for(fake))

    # all 14 bars arrived through pagination (page size 5), stored raw and exact
    assert (summary.bars, summary.splits) == (14, 1)
    bar = Bar.objects.get(asset__symbol="NVDA", session=dt.date(2024, 6, 10))
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.source) == (
        Decimal("120.37"),
        Decimal("123.1"),
        Decimal("117.01"),
        Decimal("121.79"),
        Decimal(4500),
        "alpaca",
    )
    split = CorporateAction.objects.get()
    assert (split.asset.symbol, split.ex_date, split.ratio_from, split.ratio_to) == (
        "NVDA",
        dt.date(2024, 6, 10),
        Decimal(1),
        Decimal(10),
    )
    # the requests used the IEX feed, daily bars, raw and split-adjusted, and followed next_page_token
    bars_requests = [r["query"] for r in fake.requests if r["path"] == "/v2/stocks/bars"]
    assert {q["feed"] for q in bars_requests} == {"iex"}
    assert {q["timeframe"] for q in bars_requests} == {"1Day"}
    assert {q["adjustment"] for q in bars_requests} == {"raw", "split"}
    assert len(bars_requests) == 6
    assert {q["symbols"] for q in bars_requests} == {"NVDA,SPY"}


def test_feed_is_configurable(db, fake):
    bars_import_alpaca(symbols=["SPY"], start=SESSIONS[0], end=SESSIONS[1], feed="sip", client=client_for(fake))

    assert {r["query"]["feed"] for r in fake.requests} == {"sip"}
    with pytest.raises(ValueError, match="feed must be iex or sip"):
        bars_import_alpaca(symbols=["SPY"], start=SESSIONS[0], end=SESSIONS[1], feed="otc", client=client_for(fake))


def test_client_takes_credentials_from_the_secrets_layer(db, fake, monkeypatch):
    monkeypatch.setenv("ALPACA_API_KEY", "key-from-env")
    monkeypatch.setenv("ALPACA_SECRET_KEY", "secret-from-env")

    summary = bars_import_alpaca(
        symbols=["SPY"], start=SESSIONS[0], end=SESSIONS[-1], client=alpaca_data_client(url_override=fake.url)
    )

    assert summary.bars == 7


def test_an_inconsistent_bar_stores_nothing(db):
    data = market()
    data.bars["SPY"][3] = FakeBar(SESSIONS[3], 530.0, 531.0, 529.0, 540.0, 1000)  # close above high
    with FakeAlpacaData(data) as server, pytest.raises(BarFileError, match="SPY 2024-06-06: inconsistent OHLC"):
        bars_import_alpaca(symbols=["NVDA", "SPY"], start=SESSIONS[0], end=SESSIONS[-1], client=client_for(server))

    assert not Bar.objects.exists()


def test_refresh_fetches_only_what_is_missing(db, fake):
    # given bars up to 2024-06-06 from an earlier refresh
    bars_import_alpaca(symbols=["NVDA", "SPY"], start=SESSIONS[0], end=SESSIONS[3], client=client_for(fake))
    fake.requests.clear()

    summary = bars_refresh_alpaca(end=SESSIONS[-1], client=client_for(fake))

    # then the requests start the day after the latest stored bar, and the new sessions are stored
    assert {r["query"]["start"][:10] for r in fake.requests} == {"2024-06-07"}
    assert summary.bars == 6
    assert Bar.objects.filter(asset__symbol="NVDA").count() == 7
    assert CorporateAction.objects.get().ex_date == dt.date(2024, 6, 10)
    # and a second refresh on the same day asks for nothing
    fake.requests.clear()
    assert bars_refresh_alpaca(end=SESSIONS[-1], client=client_for(fake)).bars == 0
    assert fake.requests == []


def test_the_rebalance_time_refresh_never_stores_the_unfinished_session(db, fake):
    import time_machine

    from trading_site.lib.clock import NEW_YORK

    # given bars up to Friday 2024-06-07 and Alpaca serving Tuesday 06-11's bar at 15:45 as the day so far
    bars_import_alpaca(symbols=["NVDA", "SPY"], start=SESSIONS[0], end=SESSIONS[4], client=client_for(fake))
    fake.data.bars["SPY"][-1] = FakeBar(SESSIONS[6], 536.0, 537.5, 535.0, 536.2, 600)  # partial: 600 shares so far
    fake.requests.clear()
    # when the 15:45 data step refreshes up to today
    with time_machine.travel(dt.datetime.combine(SESSIONS[6], dt.time(15, 45), tzinfo=NEW_YORK), tick=False):
        summary = bars_refresh_alpaca(end=SESSIONS[6], symbols=["SPY"], client=client_for(fake))
    # then only the completed Monday is stored, and nothing was requested past Monday
    assert summary.bars == 1
    assert list(Bar.objects.filter(asset__symbol="SPY").order_by("session").values_list("session", flat=True))[-1] == (
        SESSIONS[5])
    ends = {dt.datetime.fromisoformat(r["query"]["end"].replace("Z", "+00:00")).astimezone(NEW_YORK)
            for r in fake.requests}
    assert {e.date() for e in ends} == {SESSIONS[5]} and len(fake.requests) == 2  # raw and split-adjusted
    # when Alpaca has the final bar and the first refresh after the close runs (16:30)
    fake.data.bars["SPY"][-1] = FakeBar(SESSIONS[6], 536.0, 537.5, 533.0, 534.1, 1006)
    with time_machine.travel(dt.datetime.combine(SESSIONS[6], dt.time(16, 30), tzinfo=NEW_YORK), tick=False):
        summary = bars_refresh_alpaca(end=SESSIONS[6], symbols=["SPY"], client=client_for(fake))
    # then the session's final bar is stored: its real close and volume
    assert summary.bars == 1
    bar = Bar.objects.get(asset__symbol="SPY", session=SESSIONS[6])
    assert (bar.close, bar.low, bar.volume) == (Decimal("534.1"), Decimal("533"), Decimal(1006))


def test_fetch_before_an_early_close_and_after_it(db, fake):
    import time_machine

    from marketdata.alpaca_data import alpaca_bars_fetch
    from tests.fakes.alpaca_data import FakeMarketData
    from trading_site.lib.clock import NEW_YORK

    # Wednesday 2024-07-03 closed at 13:00 New York
    early = dt.date(2024, 7, 3)
    fake.data.bars = FakeMarketData(bars={"SPY": [FakeBar(dt.date(2024, 7, 2), 1, 1, 1, 1, 1),
                                                  FakeBar(early, 2, 2, 2, 2, 2)]}).bars
    at = lambda h, m: time_machine.travel(dt.datetime.combine(early, dt.time(h, m), tzinfo=NEW_YORK), tick=False)  # noqa: E731
    with at(12, 59):
        parsed = alpaca_bars_fetch(symbols=["SPY"], start=dt.date(2024, 7, 2), end=early, client=client_for(fake))
    assert [b.session for b in parsed.bars] == [dt.date(2024, 7, 2)]
    with at(13, 0):
        parsed = alpaca_bars_fetch(symbols=["SPY"], start=dt.date(2024, 7, 2), end=early, client=client_for(fake))
    assert [b.session for b in parsed.bars] == [dt.date(2024, 7, 2), early]
    # a range of only unfinished sessions asks Alpaca nothing
    fake.requests.clear()
    with at(12, 0):
        assert alpaca_bars_fetch(symbols=["SPY"], start=early, end=early, client=client_for(fake)).bars == []
    assert fake.requests == []
