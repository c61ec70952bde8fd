"""Market-data fixtures for every app's tests (a plugin of the root conftest): bundled datasets and small
hand-made price panels."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from marketdata.bundled import bundled_load
from marketdata.data_import import BarRow, ParsedBars, bars_import


@pytest.fixture
def ohlcv_data(db):
    """The raw 2000-2013 OHLCV dataset (AAPL, IBM, MSFT, GOOG, FB) with derived splits."""
    return bundled_load(dataset="ohlcv")


@pytest.fixture
def write_csv(tmp_path):
    def factory(name: str, text: str):
        path = tmp_path / name
        path.write_text(text)
        return path

    return factory


@pytest.fixture
def small_market(db):
    """Deterministic closes for AAPL, IBM, MSFT, GOOG on the NYSE sessions of 2010 (fast to load)."""
    # Here, not at the top: this plugin loads in every pytest process, the xdist controller included,
    # and the calendar brings exchange_calendars and pandas (~0.7 s).
    from marketdata.quality import nyse_calendar

    sessions = nyse_calendar().sessions_in_range("2010-01-04", "2010-12-31")
    parsed = ParsedBars()
    for k, symbol in enumerate(["AAPL", "IBM", "MSFT", "GOOG"]):
        for i, session in enumerate(sessions):
            price = Decimal(str(round(100 + 10 * k + 8 * math.sin(i / (7 + 3 * k)) + 0.05 * i * (k - 1.5), 2)))
            parsed.bars.append(BarRow(symbol, session.date(), price, price, price, price, None))
    return bars_import(parsed=parsed, source="test")
