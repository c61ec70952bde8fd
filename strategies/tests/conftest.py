"""Fixtures for the strategies app: bundled datasets and small hand-made price panels."""

from __future__ import annotations

import pytest

from strategies.bundled import bundled_load


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
