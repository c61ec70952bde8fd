"""Loading bars: the two CSV shapes, split derivation, one transaction, and the source rule."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from marketdata.bundled import bundled_load
from marketdata.data_import import BarFileError, DataConflict, bars_import_file
from marketdata.models import Asset, Bar, CorporateAction
from marketdata.panels import close_panel

OHLCV = """Ticker,Date,Open,High,Low,Close,Volume,Adj Close
XYZ,2021-03-01,100.00,102.00,99.00,101.00,1000,50.5
XYZ,2021-03-02,101.00,103.00,100.00,102.00,1100,51.0
XYZ,2021-03-03,51.50,52.00,50.50,51.00,2500,51.0
"""


def _state():
    return (
        list(
            Bar.objects.values_list("asset__symbol", "session", "close", "source").order_by("asset__symbol", "session")
        ),
        list(CorporateAction.objects.values_list("asset__symbol", "ex_date").order_by("ex_date")),
        list(Asset.objects.values_list("symbol", flat=True)),
    )


def test_ohlcv_csv_loads_exact_prices_and_derives_the_split(db, write_csv):
    # given a raw OHLCV file whose Close/Adj Close ratio halves on 2021-03-03 (a 2:1 split)
    path = write_csv("xyz.csv", OHLCV)

    # when it is imported through the command
    call_command("import_bars", str(path), "--format", "ohlcv")

    # then bars are stored raw and exact, and the split is recorded with its ex-date
    bars = list(
        Bar.objects.filter(asset__symbol="XYZ").values_list("session", "open", "high", "low", "close", "volume")
    )
    assert bars[0] == (
        dt.date(2021, 3, 1),
        Decimal("100"),
        Decimal("102"),
        Decimal("99"),
        Decimal("101"),
        Decimal("1000"),
    )
    assert bars[2][4] == Decimal("51.00")
    split = CorporateAction.objects.get()
    assert (split.asset.symbol, split.ex_date, split.kind) == ("XYZ", dt.date(2021, 3, 3), "split")
    assert (split.ratio_from, split.ratio_to) == (Decimal(1), Decimal(2))
    # and the adjusted panel halves the closes before the ex-date: 101/2, 102/2, 51
    panel = close_panel(symbols=["XYZ"])
    assert panel["XYZ"].tolist() == [50.5, 51.0, 51.0]
    assert close_panel(symbols=["XYZ"], adjusted=False)["XYZ"].tolist() == [101.0, 102.0, 51.0]


def test_reimport_from_the_same_source_is_idempotent(db, write_csv):
    path = write_csv("xyz.csv", OHLCV)
    bars_import_file(path=path, fmt="ohlcv")
    before = _state()

    bars_import_file(path=path, fmt="ohlcv")

    assert _state() == before


@pytest.mark.parametrize(
    ("fmt", "text", "line", "message"),
    [
        ("ohlcv", OHLCV + "XYZ,2021-03-04,51,52,50,abc,100,51\n", 5, "Close must be a number"),
        ("ohlcv", OHLCV.replace("2021-03-02,101.00,103.00", "2021-03-02,101.00,99.50"), 3, "inconsistent OHLC"),
        ("ohlcv", OHLCV + "XYZ,2021-03-01,1,1,1,1,1,1\n", 5, "duplicate bar for XYZ on 2021-03-01"),
        ("ohlcv", OHLCV + "XYZ,2021-03-05,1,1,1,-1,1,1\n", 5, "Close must be greater than zero"),
        ("ohlcv", OHLCV + "XYZ,2021-03-05,1,1,1\n", 5, "expected 8 columns, got 5"),
        ("ohlcv", "Date,Open\n2021-01-01,1\n", 1, "header must be"),
        ("wide-close", "Date,AAA,BBB\n2021-03-01,1.5,2.5\n2021-3-02,1.6,2.6\n", 3, "invalid date '2021-3-02'"),
        ("wide-close", "Date,AAA,BBB\n2021-03-01,1.5,2.5\n2021-03-02,1.6,NaNx\n", 3, "BBB must be a number"),
        ("wide-close", "Date,AAA,BBB\n2021-03-01,1.5,2.5\n2021-03-02,1.6,inf\n", 3, "must be a finite number"),
    ],
)
def test_malformed_file_loads_nothing_and_names_the_line(db, write_csv, fmt, text, line, message):
    # given some data already stored
    bars_import_file(path=write_csv("good.csv", "Date,OLD\n2021-01-04,10\n"), fmt="wide-close")
    before = _state()
    path = write_csv("bad.csv", text)

    # when a malformed file is imported
    with pytest.raises(CommandError) as excinfo:
        call_command("import_bars", str(path), "--format", fmt)

    # then the error names the line and nothing changed (not even the valid lines before it)
    assert f"bad.csv: line {line}: " in str(excinfo.value)
    assert message in str(excinfo.value)
    assert _state() == before


def test_wide_close_is_stored_as_flat_bars_without_volume(db, write_csv):
    path = write_csv("wide.csv", "Date,AAA,BBB\n2021-03-01,1.5,\n2021-03-02,1.6,2.25\n")

    summary = bars_import_file(path=path, fmt="wide-close")

    assert summary.bars == 3
    assert list(Bar.objects.filter(asset__symbol="BBB").values_list("open", "high", "low", "close", "volume")) == [
        (Decimal("2.25"), Decimal("2.25"), Decimal("2.25"), Decimal("2.25"), None)
    ]
    assert not CorporateAction.objects.exists()


@pytest.mark.slow  # over 1.5 s here: kept out of make test-fast
def test_a_symbol_never_mixes_two_sources(db):
    # given the demo dataset's AAPL (adjusted closes) is loaded
    bars_import_file(path=_wide_aapl(), fmt="wide-close", source="bundled-adj")
    before = _state()

    # when the raw OHLCV dataset (which also has AAPL and MSFT) is loaded over it, it is refused whole
    with pytest.raises(DataConflict, match=r"AAPL \(bundled-adj\)"):
        bundled_load(dataset="ohlcv")
    assert _state() == before

    # and with replace the symbol's series comes from the new source only
    bundled_load(dataset="ohlcv", existing="replace")
    assert set(Bar.objects.filter(asset__symbol="AAPL").values_list("source", flat=True)) == {"bundled-ohlcv"}


def _wide_aapl():
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "aapl.csv"
    path.write_text("Date,AAPL\n2001-01-02,1.2\n")
    return path


def test_unknown_format_is_rejected(db, write_csv):
    with pytest.raises(BarFileError, match="unknown format"):
        bars_import_file(path=write_csv("x.csv", OHLCV), fmt="json")


def test_load_bundled_data_command_loads_the_ohlcv_dataset(db):
    call_command("load_bundled_data", "--dataset", "ohlcv")

    assert Bar.objects.count() == 12154
    assert Bar.objects.filter(asset__symbol="FB").count() == 196


def test_the_portable_first_load_path_stores_the_same_values(db):
    # the embedded (SQLite) first load uses executemany instead of COPY; it is plain SQL, so check it here
    from marketdata.data_import import BarRow, _bars_executemany

    asset = Asset.objects.create(symbol="PORT")
    rows = [
        BarRow("PORT", dt.date(2024, 1, 2), Decimal("10.5"), Decimal("11"), Decimal("10"), Decimal("10.75"), None),
        BarRow(
            "PORT",
            dt.date(2024, 1, 3),
            Decimal("10.75"),
            Decimal("12"),
            Decimal("10.5"),
            Decimal("11.9"),
            Decimal(1500),
        ),
    ]

    _bars_executemany(rows, assets={"PORT": asset.pk}, source="csv")

    assert list(Bar.objects.filter(asset=asset).values_list("session", "open", "close", "volume", "source")) == [
        (dt.date(2024, 1, 2), Decimal("10.5"), Decimal("10.75"), None, "csv"),
        (dt.date(2024, 1, 3), Decimal("10.75"), Decimal("11.9"), Decimal(1500), "csv"),
    ]
