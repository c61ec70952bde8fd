"""The bundled provider: real daily data shipped in ``strategies/sample_data/`` (see its README).

Two datasets, never mixed for one symbol (AAPL and MSFT appear in both files):

- ``demo`` — the 20-stock adjusted-close file plus the S&P 500 index as the benchmark symbol ``SPX``
  (not tradable). This is the universe of the embedded demo and of replay; ``make run`` loads it.
- ``ohlcv`` — the raw 2000-2013 OHLCV file (AAPL, IBM, MSFT, GOOG, FB) with split actions derived
  from Close / Adj Close. Loaded on demand; the data-quality tests use it. Loading it into a database
  that holds the demo dataset is refused for AAPL/MSFT unless ``existing="replace"``.
"""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

from marketdata.data_import import Existing, ImportSummary, bars_import, open_text, parse_ohlcv, parse_wide_close
from marketdata.models import Bar

SAMPLE_DIR = Path(__file__).resolve().parent / "sample_data"
STOCKS_FILE = SAMPLE_DIR / "sp500-20-stocks-adjclose-1990-2022.csv.gz"
INDEX_FILE = SAMPLE_DIR / "sp500-index-close-1990-2022.csv.gz"
OHLCV_FILE = SAMPLE_DIR / "stocks-ohlcv-2000-2013.csv.gz"

BENCHMARK_SYMBOL = "SPX"
SOURCE_DEMO = "bundled-adj"
SOURCE_INDEX = "bundled-index"
SOURCE_OHLCV = "bundled-ohlcv"
DATASETS = ("demo", "ohlcv")


def demo_symbols() -> list[str]:
    """The 20 stocks of the demo universe, from the file header."""
    with open_text(STOCKS_FILE) as handle:
        return [s.strip().upper() for s in handle.readline().strip().split(",")[1:]]


def demo_loaded() -> bool:
    """The demo import is one transaction, so any demo bar means the whole dataset is there.

    The index file's only series is the benchmark symbol: asking for its bars uses the (asset, session)
    index instead of scanning the table for a source the load wrote last (``make run`` asks on every start).
    """
    return (
        Bar.objects.filter(source=SOURCE_DEMO).exists()
        and Bar.objects.filter(asset__symbol=BENCHMARK_SYMBOL, source=SOURCE_INDEX).exists()
    )


@transaction.atomic
def bundled_load(*, dataset: str, existing: Existing = "refuse") -> list[ImportSummary]:
    """Load one bundled dataset (idempotent: re-loading upserts the same rows)."""
    if dataset == "demo":
        with open_text(STOCKS_FILE) as handle:
            stocks = parse_wide_close(handle, source=STOCKS_FILE.name)
        with open_text(INDEX_FILE) as handle:
            index = parse_wide_close(_rename_index(handle), source=INDEX_FILE.name)
        return [
            bars_import(parsed=stocks, source=SOURCE_DEMO, existing=existing),
            bars_import(
                parsed=index,
                source=SOURCE_INDEX,
                existing=existing,
                asset_defaults={BENCHMARK_SYMBOL: {"name": "S&P 500 index", "tradable": False}},
            ),
        ]
    if dataset == "ohlcv":
        with open_text(OHLCV_FILE) as handle:
            parsed = parse_ohlcv(handle, source=OHLCV_FILE.name)
        return [bars_import(parsed=parsed, source=SOURCE_OHLCV, existing=existing)]
    raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")


def _rename_index(handle):
    """The index file's column is ``SP500``; store it under the benchmark symbol."""
    first = True
    for line in handle:
        if first:
            first = False
            yield line.replace("SP500", BENCHMARK_SYMBOL)
        else:
            yield line
