"""Loading daily bars: CSV parsing (two shapes), split derivation, and the one atomic import service.

Every provider (bundled files, ``manage.py import_bars``, Alpaca) produces a :class:`ParsedBars` and
hands it to :func:`bars_import`, which writes bars and corporate actions in ONE transaction: a file
that fails validation anywhere loads nothing, and the error names the offending line.

Shapes:

- ``ohlcv``: ``Ticker,Date,Open,High,Low,Close,Volume[,Adj Close]`` — raw prices. When ``Adj Close``
  is present, split events are derived from jumps in the ``Close / Adj Close`` ratio (a 2:1 split halves
  the ratio from one session to the next; dividends move it by a few percent at most).
- ``wide-close``: ``Date,<SYM1>,<SYM2>,...`` — one close per symbol and date, already split/dividend
  adjusted, no OHLC or volume. Each bar is stored with open = high = low = close and a null volume, and
  no corporate actions (the series needs no further adjustment). Empty cells mean "no bar".

Source rule: a symbol's bars come from one source. Importing over a symbol whose bars came from a
different source is refused (:class:`DataConflict`) unless ``existing="replace"``, which deletes that
symbol's bars and corporate actions first. Re-importing from the same source upserts (idempotent).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Literal

from django.db import connection, transaction

from marketdata.models import Asset, Bar, CorporateAction
from trading_site.lib.dates import DateRangeError, market_date_check
from trading_site.lib.money import DecimalInputError, quantize_price, quantize_qty, to_decimal

Format = Literal["ohlcv", "wide-close"]
FORMATS: tuple[str, ...] = ("ohlcv", "wide-close")
Existing = Literal["refuse", "replace"]

_SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9.\-]{0,15}$")
# A session-to-session change of the Close/Adj Close ratio beyond these bounds is a split, not a dividend.
_SPLIT_UP, _SPLIT_DOWN = Fraction(5, 4), Fraction(4, 5)
_BATCH = 5000


class BarFileError(ValueError):
    """A malformed input file. ``line`` is the 1-based physical line (the header is line 1)."""

    def __init__(self, message: str, *, line: int | None = None, source: str = "") -> None:
        where = f"{source}: " if source else ""
        where += f"line {line}: " if line is not None else ""
        super().__init__(f"{where}{message}")
        self.line = line
        self.message = message


class DataConflict(ValueError):
    """Import would mix two sources in one symbol's series."""


@dataclass(frozen=True, slots=True)
class BarRow:
    symbol: str
    session: dt.date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal | None


@dataclass(frozen=True, slots=True)
class SplitRow:
    symbol: str
    ex_date: dt.date
    ratio_from: Decimal
    ratio_to: Decimal


@dataclass(slots=True)
class ParsedBars:
    bars: list[BarRow] = field(default_factory=list)
    splits: list[SplitRow] = field(default_factory=list)

    @property
    def symbols(self) -> list[str]:
        return sorted({b.symbol for b in self.bars})


@dataclass(frozen=True, slots=True)
class ImportSummary:
    source: str
    symbols: tuple[str, ...]
    bars: int
    splits: int

    def __str__(self) -> str:
        return f"{self.bars} bars, {self.splits} splits for {len(self.symbols)} symbols from {self.source}"


# --- parsing -------------------------------------------------------------------------------------------


def open_text(path: str | Path) -> io.TextIOBase:
    """Open a CSV, transparently gunzipping ``.gz`` files."""
    path = Path(path)
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _symbol(raw: str, *, line: int, source: str) -> str:
    symbol = raw.strip().upper()
    if not _SYMBOL_RE.match(symbol):
        raise BarFileError(f"invalid symbol {raw!r}", line=line, source=source)
    return symbol


def _date(raw: str, *, line: int, source: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise BarFileError(f"invalid date {raw!r} (expected YYYY-MM-DD)", line=line, source=source) from None
    try:
        return market_date_check(day, field="Date")
    except DateRangeError as exc:
        raise BarFileError(f"{exc} (got {raw!r})", line=line, source=source) from None


def _price(raw: str, *, name: str, line: int, source: str) -> Decimal:
    try:
        value = to_decimal(raw, field=name)
    except DecimalInputError as exc:
        raise BarFileError(f"{exc} (got {raw!r})", line=line, source=source) from None
    if value <= 0:
        raise BarFileError(f"{name} must be greater than zero (got {raw!r})", line=line, source=source)
    value = quantize_price(value, rounding=ROUND_HALF_EVEN)
    if value <= 0:
        raise BarFileError(f"{name} is below the price precision (got {raw!r})", line=line, source=source)
    return value


def _volume(raw: str, *, line: int, source: str) -> Decimal | None:
    if not raw.strip():
        return None
    try:
        value = to_decimal(raw, field="Volume")
    except DecimalInputError as exc:
        raise BarFileError(f"{exc} (got {raw!r})", line=line, source=source) from None
    if value < 0:
        raise BarFileError(f"Volume must not be negative (got {raw!r})", line=line, source=source)
    return quantize_qty(value)


def _check_ohlc(row: BarRow, *, line: int, source: str) -> None:
    if not (row.low <= row.open <= row.high and row.low <= row.close <= row.high):
        raise BarFileError(
            f"inconsistent OHLC (open {row.open}, high {row.high}, low {row.low}, close {row.close})",
            line=line,
            source=source,
        )


def _data_rows(reader, *, width: int, source: str) -> Iterator[tuple[int, list[str]]]:
    """``(line, values)`` of the data rows after the header: blank rows skipped, column count checked."""
    for values in reader:
        line = reader.line_num
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != width:
            raise BarFileError(f"expected {width} columns, got {len(values)}", line=line, source=source)
        yield line, values


_OHLCV_HEADER = ["ticker", "date", "open", "high", "low", "close", "volume"]


def parse_ohlcv(lines: Iterable[str], *, source: str = "") -> ParsedBars:
    """Parse the long OHLCV shape; derives splits when an ``Adj Close`` column is present."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise BarFileError("empty file", line=1, source=source)
    normalized = [h.strip().lower() for h in header]
    if (
        normalized[:7] != _OHLCV_HEADER
        or len(normalized) > 8
        or (len(normalized) == 8 and normalized[7] != "adj close")
    ):
        raise BarFileError(
            f"header must be Ticker,Date,Open,High,Low,Close,Volume[,Adj Close], got {','.join(header)}",
            line=1,
            source=source,
        )
    has_adj = len(normalized) == 8
    parsed = ParsedBars()
    seen: set[tuple[str, dt.date]] = set()
    adj: dict[str, list[tuple[dt.date, Decimal, Decimal]]] = {}
    for line, values in _data_rows(reader, width=len(header), source=source):
        symbol = _symbol(values[0], line=line, source=source)
        session = _date(values[1], line=line, source=source)
        if (symbol, session) in seen:
            raise BarFileError(f"duplicate bar for {symbol} on {session}", line=line, source=source)
        seen.add((symbol, session))
        row = BarRow(
            symbol=symbol,
            session=session,
            open=_price(values[2], name="Open", line=line, source=source),
            high=_price(values[3], name="High", line=line, source=source),
            low=_price(values[4], name="Low", line=line, source=source),
            close=_price(values[5], name="Close", line=line, source=source),
            volume=_volume(values[6], line=line, source=source),
        )
        _check_ohlc(row, line=line, source=source)
        parsed.bars.append(row)
        if has_adj:
            adj_close = _price(values[7], name="Adj Close", line=line, source=source)
            adj.setdefault(symbol, []).append((session, row.close, adj_close))
    if not parsed.bars:
        raise BarFileError("no data rows", source=source)
    for symbol, series in adj.items():
        series.sort()
        parsed.splits.extend(splits_from_adjusted(symbol=symbol, series=series))
    return parsed


def parse_wide_close(lines: Iterable[str], *, source: str = "") -> ParsedBars:
    """Parse ``Date,<SYM>...``: adjusted closes, stored as open=high=low=close with no volume."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise BarFileError("empty file", line=1, source=source)
    if len(header) < 2 or header[0].strip().lower() != "date":
        raise BarFileError("header must be Date,<SYMBOL>,<SYMBOL>...", line=1, source=source)
    symbols = [_symbol(h, line=1, source=source) for h in header[1:]]
    if len(set(symbols)) != len(symbols):
        raise BarFileError("duplicate symbol in header", line=1, source=source)
    parsed = ParsedBars()
    seen: set[dt.date] = set()
    append = parsed.bars.append
    for line, values in _data_rows(reader, width=len(header), source=source):
        session = _date(values[0], line=line, source=source)
        if session in seen:
            raise BarFileError(f"duplicate date {session}", line=line, source=source)
        seen.add(session)
        for symbol, raw in zip(symbols, values[1:], strict=True):
            text = raw.strip()
            if not text or text.lower() == "nan":
                continue
            price = _price(text, name=symbol, line=line, source=source)
            append(BarRow(symbol, session, price, price, price, price, None))
    if not parsed.bars:
        raise BarFileError("no data rows", source=source)
    return parsed


def parse_file(path: str | Path, *, fmt: Format) -> ParsedBars:
    if fmt not in FORMATS:
        raise BarFileError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    name = Path(path).name
    try:
        with open_text(path) as handle:
            return parse_ohlcv(handle, source=name) if fmt == "ohlcv" else parse_wide_close(handle, source=name)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BarFileError(f"cannot read file: {exc}", source=name) from None


def splits_from_adjusted(*, symbol: str, series: list[tuple[dt.date, Decimal, Decimal]]) -> list[SplitRow]:
    """Split events from jumps in ``close / adj_close`` between consecutive sessions.

    ``series`` is ``(session, close, adj_close)`` in session order.

    For a k-for-1 split on session t the raw close falls by k while the adjusted close does not, so
    ``ratio[t-1] / ratio[t]`` is k (dividends move the ratio by a few percent). The factor is rounded to
    the nearest simple fraction (denominator ≤ 20) — 2:1, 3:2, 1:10 reverse split...
    """
    splits: list[SplitRow] = []
    previous: Fraction | None = None
    for session, c, a in series:
        ratio = Fraction(c) / Fraction(a)
        if previous is not None:
            factor = previous / ratio
            if factor >= _SPLIT_UP or factor <= _SPLIT_DOWN:
                nice = factor.limit_denominator(20)
                splits.append(SplitRow(symbol, session, Decimal(nice.denominator), Decimal(nice.numerator)))
        previous = ratio
    return splits


def iter_batches(items: list, size: int = _BATCH) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- the import service ----------------------------------------------------------------------------------


@transaction.atomic
def bars_import(
    *,
    parsed: ParsedBars,
    source: str,
    existing: Existing = "refuse",
    asset_defaults: dict[str, dict] | None = None,
) -> ImportSummary:
    """Write parsed bars and split actions in one transaction (all or nothing).

    ``asset_defaults`` maps a symbol to fields for a newly created :class:`Asset` (e.g. an index that
    is not tradable). Existing assets are left as they are.
    """
    if existing not in ("refuse", "replace"):
        raise ValueError(f"existing must be refuse or replace, not {existing!r}")
    symbols = parsed.symbols
    if not symbols:
        raise BarFileError("nothing to import")
    asset_defaults = asset_defaults or {}
    present = {a.symbol: a for a in Asset.objects.filter(symbol__in=symbols)}
    missing = [Asset(symbol=s, **asset_defaults.get(s, {})) for s in symbols if s not in present]
    Asset.objects.bulk_create(missing, batch_size=_BATCH, ignore_conflicts=True)
    assets = dict(Asset.objects.filter(symbol__in=symbols).values_list("symbol", "id"))

    ids = list(assets.values())
    other = sorted(
        set(
            Bar.objects.filter(asset_id__in=ids)
            .exclude(source=source)
            .order_by()  # no default ordering: DISTINCT must be over (symbol, source) only
            .values_list("asset__symbol", "source")
            .distinct()
        )
    )
    if other:
        if existing == "refuse":
            listed = ", ".join(f"{sym} ({src})" for sym, src in other)
            raise DataConflict(
                f"bars from another source already exist for {listed}; a symbol's series must not mix "
                f"sources — re-run with replace to delete them first"
            )
        replaced = [assets[sym] for sym in {sym for sym, _ in other}]
        Bar.objects.filter(asset_id__in=replaced).delete()
        CorporateAction.objects.filter(asset_id__in=replaced).delete()

    fresh = not Bar.objects.filter(asset_id__in=ids).exists()
    if fresh and connection.vendor == "postgresql":
        _bars_copy(parsed.bars, assets=assets, source=source)
    elif fresh:
        _bars_executemany(parsed.bars, assets=assets, source=source)
    else:
        objects = [
            Bar(
                asset_id=assets[b.symbol],
                session=b.session,
                open=b.open,
                high=b.high,
                low=b.low,
                close=b.close,
                volume=b.volume,
                source=source,
            )
            for b in parsed.bars
        ]
        for batch in iter_batches(objects):
            Bar.objects.bulk_create(
                batch,
                update_conflicts=True,
                unique_fields=["asset", "session"],
                update_fields=["open", "high", "low", "close", "volume", "source"],
            )
    actions = [
        CorporateAction(
            asset_id=assets[s.symbol],
            ex_date=s.ex_date,
            kind=CorporateAction.Kind.SPLIT,
            ratio_from=s.ratio_from,
            ratio_to=s.ratio_to,
            source=source,
        )
        for s in parsed.splits
    ]
    CorporateAction.objects.bulk_create(
        actions,
        update_conflicts=True,
        unique_fields=["asset", "ex_date", "kind"],
        update_fields=["ratio_from", "ratio_to", "source"],
    )
    return ImportSummary(source=source, symbols=tuple(symbols), bars=len(parsed.bars), splits=len(actions))


def _bars_copy(bars: list[BarRow], *, assets: dict[str, int], source: str) -> None:
    """PostgreSQL fast path for a first load: COPY instead of INSERT (same table, same constraints).

    Several times faster than batched INSERTs for the ~175k bundled bars; used only when none of the
    symbols has bars yet, so there is nothing to upsert.
    """
    table = Bar._meta.db_table
    columns = ("asset_id", "session", "open", "high", "low", "close", "volume", "source")
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for b in bars:
            copy.write_row((assets[b.symbol], b.session, b.open, b.high, b.low, b.close, b.volume, source))


def _bars_executemany(bars: list[BarRow], *, assets: dict[str, int], source: str) -> None:
    """Other databases (SQLite, the embedded default): one prepared INSERT run with executemany.

    Skips building ~175k model instances and re-rendering SQL per batch, which makes the first
    ``make run`` several times faster than ``bulk_create``; the table's constraints still apply.
    """
    table = connection.ops.quote_name(Bar._meta.db_table)
    sql = (
        f"INSERT INTO {table} (asset_id, session, open, high, low, close, volume, source) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
    )
    with connection.cursor() as cursor:
        for batch in iter_batches(bars, 20_000):
            cursor.executemany(
                sql,
                [
                    (
                        assets[b.symbol],
                        b.session.isoformat(),
                        str(b.open),
                        str(b.high),
                        str(b.low),
                        str(b.close),
                        None if b.volume is None else str(b.volume),
                        source,
                    )
                    for b in batch
                ],
            )


def bars_import_file(
    *, path: str | Path, fmt: Format, source: str = "csv", existing: Existing = "refuse"
) -> ImportSummary:
    """``manage.py import_bars``: parse the whole file first, then import it atomically."""
    parsed = parse_file(path, fmt=fmt)
    return bars_import(parsed=parsed, source=source, existing=existing)
