"""Strict parsing of the import files; every error names the file and line.

Trades: ``date,side,symbol,qty,price,trade_id[,lot_ids][,commission]`` (header required, dates
``YYYY-MM-DD``, ``lot_ids`` ``;``-separated buy trade ids). Corporate actions:
``date,symbol,type,ratio_from,ratio_to`` with ``type`` = ``split`` (``ratio_to`` new shares for
``ratio_from`` old: a 2-for-1 split is ``1,2``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from decimal import Decimal

from tax.engine import BUY, SELL, ZERO, Trade
from trading_site.lib.dates import DateRangeError, parse_market_date
from trading_site.lib.money import DecimalInputError, parse_money, parse_price, parse_qty

TRADE_REQUIRED = ("date", "side", "symbol", "qty", "price", "trade_id")
TRADE_OPTIONAL = ("lot_ids", "commission")
CA_REQUIRED = ("date", "symbol", "type", "ratio_from", "ratio_to")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9.\-/]{0,15}$")
_TRADE_ID = re.compile(r"^[^\s;,]{1,80}$")
_NUMBER_COLUMNS = frozenset({"qty", "price", "commission", "ratio_from", "ratio_to"})


class ImportFileError(ValueError):
    def __init__(self, *, name: str, line: int, message: str) -> None:
        super().__init__(f"{name} line {line}: {message}")
        self.name = name
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class SplitRow:
    line: int
    date: dt.date
    symbol: str
    ratio_from: Decimal
    ratio_to: Decimal


def _rows(text: str, *, name: str, required: tuple[str, ...], optional: tuple[str, ...]):
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(name=name, line=1, message="the file is empty (a header row is required)") from None
    header = [h.strip().lower() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise ImportFileError(name=name, line=1, message=f"missing column(s): {', '.join(missing)}")
    unknown = [c for c in header if c not in required + optional]
    if unknown:
        raise ImportFileError(name=name, line=1, message=f"unknown column(s): {', '.join(unknown)}")
    if len(set(header)) != len(header):
        raise ImportFileError(name=name, line=1, message="duplicate column names")
    for values in reader:
        line = reader.line_num
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) > len(header):
            raise ImportFileError(name=name, line=line, message=f"{len(values)} fields, the header has {len(header)}")
        values = values + [""] * (len(header) - len(values))
        # Numbers are taken as written (the strict parser refuses " 1"); other cells are trimmed.
        yield line, {k: v if k in _NUMBER_COLUMNS else v.strip() for k, v in zip(header, values, strict=True)}


def parse_date(value: str, *, name: str, line: int) -> dt.date:
    if not _DATE.match(value):
        raise ImportFileError(name=name, line=line, message=f"date {value!r} is not in YYYY-MM-DD format")
    try:
        return parse_market_date(value, field="date")
    except DateRangeError as exc:
        raise ImportFileError(name=name, line=line, message=f"{exc} (got {value!r})") from None


def _symbol(value: str, *, name: str, line: int) -> str:
    symbol = value.upper()
    if not _SYMBOL.match(symbol):
        raise ImportFileError(name=name, line=line, message=f"symbol {value!r} is not valid")
    return symbol


def parse_trades(text: str, *, name: str = "trades") -> list[tuple[int, Trade]]:
    trades: list[tuple[int, Trade]] = []
    seen: dict[str, int] = {}
    # A history repeats a few thousand days and a few symbols over many trades: each is parsed once
    # and shared (the checks behind a date read the clock), which keeps a long file's parse fast
    # and its hundred thousand trades small in memory.
    days: dict[str, dt.date] = {}
    symbols: dict[str, str] = {}
    for line, row in _rows(text, name=name, required=TRADE_REQUIRED, optional=TRADE_OPTIONAL):
        day = days.get(row["date"])
        if day is None:
            day = days[row["date"]] = parse_date(row["date"], name=name, line=line)
        side = row["side"].lower()
        if side not in (BUY, SELL):
            raise ImportFileError(name=name, line=line, message=f"side {row['side']!r} must be buy or sell")
        side = BUY if side == BUY else SELL
        symbol = symbols.get(row["symbol"])
        if symbol is None:
            symbol = symbols[row["symbol"]] = _symbol(row["symbol"], name=name, line=line)
        try:
            qty = parse_qty(row["qty"], field="qty")
            price = parse_price(row["price"], field="price")
            commission = ZERO
            if row.get("commission"):
                commission = parse_money(row["commission"], field="commission")
                if commission < 0:
                    raise DecimalInputError("commission must not be negative")
        except DecimalInputError as exc:
            raise ImportFileError(name=name, line=line, message=str(exc)) from None
        trade_id = row["trade_id"]
        if not _TRADE_ID.match(trade_id):
            raise ImportFileError(name=name, line=line, message=f"trade_id {trade_id!r} is empty or not valid")
        if trade_id in seen:
            raise ImportFileError(name=name, line=line, message=f"trade_id {trade_id!r} repeats line {seen[trade_id]}")
        seen[trade_id] = line
        lot_ids: tuple[str, ...] = ()
        if row.get("lot_ids"):
            if side == BUY:
                raise ImportFileError(name=name, line=line, message="lot_ids only apply to sells")
            lot_ids = tuple(part.strip() for part in row["lot_ids"].split(";") if part.strip())
        trades.append(
            (
                line,
                Trade(
                    trade_id=trade_id,
                    date=day,
                    side=side,
                    symbol=symbol,
                    qty=qty,
                    price=price,
                    commission=commission,
                    lot_ids=lot_ids,
                    execution_id=f"import:{trade_id}",
                ),
            )
        )
    return trades


def parse_corporate_actions(text: str, *, name: str = "corporate-actions") -> list[SplitRow]:
    splits: list[SplitRow] = []
    seen: set[tuple[str, dt.date]] = set()
    for line, row in _rows(text, name=name, required=CA_REQUIRED, optional=()):
        day = parse_date(row["date"], name=name, line=line)
        symbol = _symbol(row["symbol"], name=name, line=line)
        if row["type"].lower() != "split":
            raise ImportFileError(name=name, line=line, message=f"type {row['type']!r} is not supported (only split)")
        try:
            ratio_from = parse_qty(row["ratio_from"], field="ratio_from")
            ratio_to = parse_qty(row["ratio_to"], field="ratio_to")
        except DecimalInputError as exc:
            raise ImportFileError(name=name, line=line, message=str(exc)) from None
        if (symbol, day) in seen:
            raise ImportFileError(name=name, line=line, message=f"a second split of {symbol} on {day}")
        seen.add((symbol, day))
        splits.append(SplitRow(line=line, date=day, symbol=symbol, ratio_from=ratio_from, ratio_to=ratio_to))
    return splits
