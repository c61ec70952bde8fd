"""Writes to the tax ledger: the fill listener, the trade-history import and split application.

Both doors — every platform fill (:func:`lots_apply_fill`, registered as the ``tax_lots`` fill
listener and called inside the fill's transaction) and ``manage.py tax_import``
(:func:`trades_import`) — load the symbol's book into the pure lot engine (``tax.engine``), apply
the trades, and write the engine's changes in bulk. A :class:`~tax.models.SymbolBook` row locked
with ``select_for_update`` serialises writers per account and symbol.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import psycopg
from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from tax import conf, engine
from tax.csvio import ImportFileError, SplitRow
from tax.models import (
    AppliedSplit,
    LotAdjustment,
    RealizedGain,
    SymbolBook,
    TaxLot,
    TaxTrade,
    WashSale,
)
from trading_site.lib import clock
from trading_site.lib.money import MONEY_QUANTUM

BATCH = 5000


class TaxImportError(ValueError):
    """The import was refused; nothing was written."""


# -- engine <-> rows ------------------------------------------------------------------------------
# The engine identifies rows with 128-bit ints; the database stores them as UUIDs.
def _uuid(value: int | None) -> str | None:
    return None if value is None else f"{value:032x}"


def _int(value) -> int | None:
    return None if value is None else value.int


LOT_LOAD = (
    "id", "symbol", "trade_id", "execution_id", "root_id", "parent_id", "seq", "sub", "acquired_date",
    "holding_period_start", "price", "open_qty", "cost_basis_total", "qty_original", "basis_original",
    "wash_absorbed",
)  # fmt: skip


def _lot_from_values(v: tuple) -> engine.Lot:
    return engine.Lot(
        id=v[0].int, symbol=v[1], trade_id=v[2], execution_id=v[3], root_id=v[4].int, parent_id=_int(v[5]),
        seq=v[6], sub=v[7], acquired=v[8], holding_start=v[9], price=v[10], qty=v[11], basis=v[12],
        qty_original=v[13], basis_original=v[14], wash_absorbed=v[15], new=False,
    )  # fmt: skip


REALIZED_LOAD = (
    "id", "symbol", "sale_trade_id", "sale_execution_id", "lot_id", "lot_trade_id", "root_lot_id", "qty",
    "date_acquired", "date_sold", "holding_period_start", "proceeds", "cost_basis", "term", "sale_seq", "lot_seq",
    "adjustment_amount", "wash_open_qty", "wash_open_loss", "piece",
)  # fmt: skip


def _realized_from_values(v: tuple) -> engine.Realized:
    return engine.Realized(
        id=v[0].int, symbol=v[1], sale_trade_id=v[2], sale_execution_id=v[3], lot_id=v[4].int, lot_trade_id=v[5],
        root_id=v[6].int, qty=v[7], date_acquired=v[8], date_sold=v[9], holding_start=v[10], proceeds=v[11],
        cost_basis=v[12], term=v[13], sale_seq=v[14], lot_seq=v[15], adjustment=v[16], wash_open_qty=v[17],
        wash_open_loss=v[18], piece=v[19], new=False,
    )  # fmt: skip


LOT_COLUMNS = (
    "id", "account", "symbol", "trade_id", "execution_id", "root_id", "parent_id", "seq", "sub", "acquired_date",
    "holding_period_start", "price", "qty_original", "basis_original", "open_qty", "cost_basis_total",
    "wash_absorbed", "status", "created_at",
)  # fmt: skip


def _lot_values(lot: engine.Lot, account: str, now: dt.datetime) -> tuple:
    return (
        _uuid(lot.id), account, lot.symbol, lot.trade_id, lot.execution_id, _uuid(lot.root_id), _uuid(lot.parent_id),
        lot.seq, lot.sub, lot.acquired, lot.holding_start, lot.price, lot.qty_original, lot.basis_original, lot.qty,
        lot.basis, lot.wash_absorbed, TaxLot.Status.OPEN if lot.qty > 0 else TaxLot.Status.CLOSED, now,
    )  # fmt: skip


REALIZED_COLUMNS = (
    "id", "account", "symbol", "lot_id", "lot_trade_id", "root_lot_id", "sale_trade_id", "sale_execution_id",
    "sale_seq", "lot_seq", "qty", "date_acquired", "date_sold", "holding_period_start", "proceeds", "cost_basis",
    "adjustment_amount", "gain_loss", "term", "wash_open_qty", "wash_open_loss", "created_at", "piece",
)  # fmt: skip


def _realized_values(r: engine.Realized, account: str, now: dt.datetime) -> tuple:
    return (
        _uuid(r.id), account, r.symbol, _uuid(r.lot_id), r.lot_trade_id, _uuid(r.root_id), r.sale_trade_id,
        r.sale_execution_id, r.sale_seq, r.lot_seq, r.qty, r.date_acquired, r.date_sold, r.holding_start, r.proceeds,
        r.cost_basis, r.adjustment, r.gain_loss, r.term, r.wash_open_qty, r.wash_open_loss, now, r.piece,
    )  # fmt: skip


WASH_COLUMNS = (
    "id", "account", "symbol", "realized_id", "sale_trade_id", "lot_trade_id", "original_sale_date",
    "replacement_lot_id", "replacement_trade_id", "triggering_purchase_date", "qty", "disallowed_loss",
    "holding_start_before", "holding_start_after", "detected_on", "created_at",
)  # fmt: skip

ADJUSTMENT_COLUMNS = (
    "lot_id", "kind", "day", "qty_before", "qty_after", "basis_before", "basis_after", "holding_start_before",
    "holding_start_after", "reference", "created_at",
)  # fmt: skip

TRADE_COLUMNS = (
    "account", "execution_id", "trade_id", "origin", "symbol", "side", "qty", "price", "commission", "trade_date",
    "executed_at", "order_id", "source", "strategy", "lot_ids", "method", "error",
)  # fmt: skip


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _insert(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Bulk insert for databases without COPY (the embedded SQLite run)."""
    if rows:
        model.objects.bulk_create([model(**dict(zip(columns, row, strict=True))) for row in rows], batch_size=500)


# PostgreSQL COPY text lines, one f-string per row (column order as in the *_COLUMNS tuples above):
# formatting hundreds of thousands of rows value by value costs more than the database's work.
def _esc(text: str) -> str:
    return text.translate(_COPY_ESCAPES)


def _lot_line(lot: engine.Lot, acc: str, now: str) -> str:
    parent = "\\N" if lot.parent_id is None else f"{lot.parent_id:032x}"
    return (
        f"{lot.id:032x}\t{acc}\t{_esc(lot.symbol)}\t{_esc(lot.trade_id)}\t{_esc(lot.execution_id)}\t"
        f"{lot.root_id:032x}\t{parent}\t{lot.seq}\t{lot.sub}\t{lot.acquired}\t{lot.holding_start}\t{lot.price}\t"
        f"{lot.qty_original}\t{lot.basis_original}\t{lot.qty}\t{lot.basis}\t{'t' if lot.wash_absorbed else 'f'}\t"
        f"{'open' if lot.qty > 0 else 'closed'}\t{now}"
    )


def _realized_line(r: engine.Realized, acc: str, now: str) -> str:
    return (
        f"{r.id:032x}\t{acc}\t{_esc(r.symbol)}\t{r.lot_id:032x}\t{_esc(r.lot_trade_id)}\t{r.root_id:032x}\t"
        f"{_esc(r.sale_trade_id)}\t{_esc(r.sale_execution_id)}\t{r.sale_seq}\t{r.lot_seq}\t{r.qty}\t"
        f"{r.date_acquired}\t{r.date_sold}\t{r.holding_start}\t{r.proceeds}\t{r.cost_basis}\t{r.adjustment}\t"
        f"{r.gain_loss}\t{r.term}\t{r.wash_open_qty}\t{r.wash_open_loss}\t{now}\t{r.piece}"
    )


def _wash_line(w: engine.Wash, acc: str, now: str) -> str:
    return (
        f"{w.id:032x}\t{acc}\t{_esc(w.symbol)}\t{w.realized_id:032x}\t{_esc(w.sale_trade_id)}\t"
        f"{_esc(w.lot_trade_id)}\t{w.date_sold}\t{w.replacement_lot_id:032x}\t{_esc(w.replacement_trade_id)}\t"
        f"{w.replacement_acquired}\t{w.qty}\t{w.disallowed_loss}\t{w.holding_start_before}\t"
        f"{w.holding_start_after}\t{w.detected_on}\t{now}"
    )


def _adjustment_line(a: engine.Adjustment, now: str) -> str:
    return (
        f"{a.lot_id:032x}\t{a.kind}\t{a.day}\t{a.qty_before}\t{a.qty_after}\t{a.basis_before}\t{a.basis_after}\t"
        f"{a.holding_start_before}\t{a.holding_start_after}\t{_esc(a.reference[:80])}\t{now}"
    )


def _copy_lines(model, columns: tuple[str, ...], lines: list[str]) -> None:
    if not lines:
        return
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({quoted}) FROM STDIN"
    connection.ensure_connection()
    with connection.connection.cursor() as cursor, cursor.copy(sql) as copy:
        for start in range(0, len(lines), 20000):
            copy.write("\n".join(lines[start : start + 20000]) + "\n")


def _inserts_new(*, account: str, changes: engine.Changes, now: dt.datetime) -> None:
    """Insert the new lots, realized rows, wash sales and adjustments."""
    if connection.vendor == "postgresql":
        acc, stamp = _esc(account), now.isoformat()
        _copy_lines(TaxLot, LOT_COLUMNS, [_lot_line(lot, acc, stamp) for lot in changes.lots if lot.new])
        _copy_lines(RealizedGain, REALIZED_COLUMNS, [_realized_line(r, acc, stamp) for r in changes.realized if r.new])
        _copy_lines(WashSale, WASH_COLUMNS, [_wash_line(w, acc, stamp) for w in changes.washes])
        _copy_lines(LotAdjustment, ADJUSTMENT_COLUMNS, [_adjustment_line(a, stamp) for a in changes.adjustments])
        return
    _insert(TaxLot, LOT_COLUMNS, [_lot_values(lot, account, now) for lot in changes.lots if lot.new])
    _insert(RealizedGain, REALIZED_COLUMNS, [_realized_values(r, account, now) for r in changes.realized if r.new])
    _insert(
        WashSale,
        WASH_COLUMNS,
        [
            (
                _uuid(w.id), account, w.symbol, _uuid(w.realized_id), w.sale_trade_id, w.lot_trade_id, w.date_sold,
                _uuid(w.replacement_lot_id), w.replacement_trade_id, w.replacement_acquired, w.qty,
                w.disallowed_loss, w.holding_start_before, w.holding_start_after, w.detected_on, now,
            )
            for w in changes.washes
        ],
    )  # fmt: skip
    _insert(
        LotAdjustment,
        ADJUSTMENT_COLUMNS,
        [
            (
                _uuid(a.lot_id), a.kind, a.day, a.qty_before, a.qty_after, a.basis_before, a.basis_after,
                a.holding_start_before, a.holding_start_after, a.reference[:80], now,
            )
            for a in changes.adjustments
        ],
    )  # fmt: skip


def _changes_write(*, account: str, changes: engine.Changes, now: dt.datetime) -> None:
    """Persist an engine's changes: bulk inserts for new rows, few statements for modified ones."""
    # New rows first: lots updated below may be referenced by new realized rows (FKs are deferred anyway).
    _inserts_new(account=account, changes=changes, now=now)
    wash_adjusted = {a.lot_id for a in changes.adjustments if a.kind != "split"}
    closed_plain = [
        uuid.UUID(int=lot.id) for lot in changes.lots if lot.dirty and lot.qty == 0 and lot.id not in wash_adjusted
    ]
    if closed_plain and connection.vendor == "postgresql":
        # One array parameter, bound server-side, instead of thousands of IN (...) literals.
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(
                f"UPDATE {TaxLot._meta.db_table} SET open_qty = 0, cost_basis_total = 0, status = %s "
                "WHERE id = ANY(%s)",
                [TaxLot.Status.CLOSED.value, closed_plain],
            )
    elif closed_plain:
        for start in range(0, len(closed_plain), 500):
            TaxLot.objects.filter(pk__in=closed_plain[start : start + 500]).update(
                open_qty=0, cost_basis_total=0, status=TaxLot.Status.CLOSED
            )
    modified = [
        TaxLot(**dict(zip(LOT_COLUMNS, _lot_values(lot, account, now), strict=True)))
        for lot in changes.lots
        if lot.dirty and (lot.qty > 0 or lot.id in wash_adjusted)
    ]
    if modified:
        TaxLot.objects.bulk_update(
            modified,
            ["open_qty", "cost_basis_total", "holding_period_start", "wash_absorbed", "status"],
            batch_size=500,
        )
    touched = [
        RealizedGain(**dict(zip(REALIZED_COLUMNS, _realized_values(r, account, now), strict=True)))
        for r in changes.realized
        if r.dirty
    ]
    if touched:
        RealizedGain.objects.bulk_update(
            touched, ["adjustment_amount", "gain_loss", "wash_open_qty", "wash_open_loss"], batch_size=500
        )


def _book_lock(*, account: str, symbol: str) -> SymbolBook:
    """Lock (creating on first use) the book row that serialises writers of this account and symbol."""
    row = SymbolBook.objects.select_for_update().filter(account=account, symbol=symbol).first()
    if row is None:
        SymbolBook.objects.bulk_create([SymbolBook(account=account, symbol=symbol)], ignore_conflicts=True)
        row = SymbolBook.objects.select_for_update().get(account=account, symbol=symbol)
    return row


def _book_load(*, account: str, row: SymbolBook, on: dt.date, with_pending: bool = True) -> engine.SymbolBook:
    lots = [
        _lot_from_values(v)
        for v in TaxLot.objects.filter(account=account, symbol=row.symbol, status=TaxLot.Status.OPEN)
        .order_by()
        .values_list(*LOT_LOAD)
    ]
    pending = (
        [
            _realized_from_values(v)
            for v in RealizedGain.objects.filter(
                account=account,
                symbol=row.symbol,
                wash_open_qty__gt=0,
                date_sold__gte=on - dt.timedelta(days=engine.WASH_WINDOW_DAYS),
            )
            .order_by()
            .values_list(*REALIZED_LOAD)
        ]
        if with_pending
        else []
    )
    # Fills never name lots (specific identification is import-only), so the book's default set of
    # known trade ids (those of the open lots) is enough here.
    return engine.SymbolBook(symbol=row.symbol, lots=lots, pending=pending, next_seq=row.next_seq)


def _books_load_many(
    *, account: str, rows: dict[str, SymbolBook], first_day: dict[str, dt.date]
) -> dict[str, engine.SymbolBook]:
    """:func:`_book_load` for many symbols with one query per table (imports)."""
    symbols = list(rows)
    if not symbols:
        return {}
    lots: dict[str, list[engine.Lot]] = defaultdict(list)
    for v in (
        TaxLot.objects.filter(account=account, symbol__in=symbols, status=TaxLot.Status.OPEN)
        .order_by()
        .values_list(*LOT_LOAD)
    ):
        lots[v[1]].append(_lot_from_values(v))
    pending: dict[str, list[engine.Realized]] = defaultdict(list)
    horizon = min(first_day.values()) - dt.timedelta(days=engine.WASH_WINDOW_DAYS)
    for v in (
        RealizedGain.objects.filter(account=account, symbol__in=symbols, wash_open_qty__gt=0, date_sold__gte=horizon)
        .order_by()
        .values_list(*REALIZED_LOAD)
    ):
        if v[9] >= first_day[v[1]] - dt.timedelta(days=engine.WASH_WINDOW_DAYS):
            pending[v[1]].append(_realized_from_values(v))
    known: dict[str, set[str]] = defaultdict(set)
    for symbol, trade_id in (
        TaxLot.objects.filter(account=account, symbol__in=symbols)
        .order_by()
        .values_list("symbol", "trade_id")
        .distinct()
    ):
        known[symbol].add(trade_id)
    return {
        symbol: engine.SymbolBook(
            symbol=symbol,
            lots=lots[symbol],
            pending=pending[symbol],
            next_seq=row.next_seq,
            known_trade_ids=known[symbol],
        )
        for symbol, row in rows.items()
    }


def _market_splits(*, account: str, symbol: str, upto: dt.date) -> list[SplitRow]:
    """Splits in the shared market data not yet applied to this account's ledger."""
    from strategies.models import CorporateAction

    applied = AppliedSplit.objects.filter(account=account, symbol=symbol).values("ex_date")
    rows = (
        CorporateAction.objects.filter(asset__symbol=symbol, kind=CorporateAction.Kind.SPLIT, ex_date__lte=upto)
        .exclude(ex_date__in=applied)
        .order_by("ex_date")
        .values_list("ex_date", "ratio_from", "ratio_to")
    )
    return [SplitRow(line=0, date=d, symbol=symbol, ratio_from=f, ratio_to=t) for d, f, t in rows]


def _split_apply(
    *, book: engine.SymbolBook, split: SplitRow, account: str, source: str, now: dt.datetime
) -> AppliedSplit:
    changed = book.split(day=split.date, ratio_from=split.ratio_from, ratio_to=split.ratio_to)
    return AppliedSplit(
        account=account,
        symbol=split.symbol,
        ex_date=split.date,
        ratio_from=split.ratio_from,
        ratio_to=split.ratio_to,
        lots_adjusted=len(changed),
        source=source,
        created_at=now,
    )


def trade_date_of(executed_at: dt.datetime) -> dt.date:
    """The trade date of an execution: its calendar date in New York."""
    return executed_at.astimezone(clock.NEW_YORK).date()


# -- door 1: fills ---------------------------------------------------------------------------------
def lots_apply_fill(event) -> TaxTrade | None:
    """Fill listener: apply one fill (``orders.events.FillEvent``) to the ledger, idempotently.

    Runs inside the fill's transaction. A fill the ledger cannot apply (a sell larger than the tax
    position — e.g. history not imported yet) does not abort the fill: it is stored with the reason
    and raises a critical alert, so trading continues and the gap is visible.
    """
    from trading_site.alerts import alert_raise
    from trading_site.models import Alert

    symbol = event.symbol.upper()
    account = event.account or "default"
    day = trade_date_of(event.executed_at)
    commission = event.commission or Decimal(0)
    now = clock.now()
    # No savepoint: the listener runs inside the fill's transaction, and an exception escaping it
    # aborts that whole transaction anyway (orders.events) — a savepoint would only add two
    # statements to every fill. Called outside a transaction, this still opens one.
    with transaction.atomic(savepoint=False):
        book_row = _book_lock(account=account, symbol=symbol)
        # Duplicate deliveries of one execution are serialised by the book lock, so a plain
        # existence check is race-free here; the unique constraint still backs it.
        if TaxTrade.objects.filter(account=account, execution_id=event.execution_id).exists():
            return None  # a duplicate delivery: already applied
        due_splits = _market_splits(account=account, symbol=symbol, upto=day)
        # A sale only adds open losses; a buy (or a split, which rescales them) needs the existing ones.
        # the open losses a due split rescales reach back 30 days before its ex-date
        book = _book_load(
            account=account,
            row=book_row,
            on=min([day, *(split.date for split in due_splits)]),
            with_pending=event.side != engine.SELL or bool(due_splits),
        )
        splits = [_split_apply(book=book, split=s, account=account, source="market_data", now=now) for s in due_splits]
        trade = engine.Trade(
            trade_id=event.client_order_id,
            date=day,
            side=event.side,
            symbol=symbol,
            qty=event.qty,
            price=event.price,
            commission=commission,
            execution_id=event.execution_id,
        )
        error = ""
        try:
            if trade.side == engine.BUY:
                book.buy(trade)
            elif trade.side == engine.SELL:
                book.sell(trade, method=conf.LOT_METHOD)
            else:
                raise engine.LotError(f"side {trade.side!r} must be buy or sell")
        except engine.LotError as exc:
            error = str(exc)  # the engine changed nothing but the due splits
        trade_row = TaxTrade.objects.create(
            account=account,
            execution_id=event.execution_id,
            trade_id=event.client_order_id,
            origin=TaxTrade.Origin.FILL,
            symbol=symbol,
            side=event.side,
            qty=event.qty,
            price=event.price,
            commission=commission,
            trade_date=day,
            executed_at=event.executed_at,
            order_id=event.order_id,
            source=event.source,
            strategy=event.strategy,
            method=conf.LOT_METHOD if event.side == engine.SELL else "",
            error=error,
        )
        AppliedSplit.objects.bulk_create(splits)
        _changes_write(account=account, changes=book.take_changes(), now=now)
        book_row.next_seq = book.next_seq
        if error:
            book_row.save(update_fields=["next_seq"])
            alert_raise(
                source="tax",
                metric="tax_lot_error",
                severity=Alert.Severity.CRITICAL,
                message=f"Tax ledger could not apply fill {event.execution_id} ({symbol}): {error}",
                data={"execution_id": event.execution_id, "symbol": symbol},
            )
        else:
            book_row.last_trade_date = max(day, book_row.last_trade_date or day)
            book_row.save(update_fields=["next_seq", "last_trade_date"])
    return trade_row


# -- door 2: import --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ImportResult:
    trades: int
    buys: int
    sells: int
    splits: int
    lots_created: int
    realized_rows: int
    wash_sales: int
    disallowed_loss: Decimal


def trades_import(
    *,
    trades: list[tuple[int, engine.Trade]],
    splits: list[SplitRow] | None = None,
    method: str = engine.FIFO,
    account: str = "default",
    actor=None,
    trades_name: str = "trades",
    splits_name: str = "corporate-actions",
) -> ImportResult:
    """Apply parsed trades (and splits) in date order, file order within a date; all or nothing.

    Raises :class:`~tax.csvio.ImportFileError` naming the line of the first trade that cannot be
    applied, or :class:`TaxImportError`; nothing is written in either case.
    """
    from trading_site.audit import action_record

    if method not in engine.METHODS:
        raise TaxImportError(f"method must be one of {', '.join(engine.METHODS)}")
    splits = splits or []
    now = clock.now()
    by_symbol: dict[str, list[tuple[dt.date, int, int, object]]] = defaultdict(list)
    for line, trade in trades:
        by_symbol[trade.symbol].append((trade.date, 1, line, trade))
    for split in splits:
        by_symbol[split.symbol].append((split.date, 0, split.line, split))

    with transaction.atomic():
        symbols = sorted(by_symbol)
        existing = set(
            TaxTrade.objects.filter(account=account, origin=TaxTrade.Origin.IMPORT, symbol__in=symbols).values_list(
                "execution_id", flat=True
            )
        )
        for line, trade in trades:
            if trade.execution_id in existing:
                raise ImportFileError(
                    name=trades_name, line=line, message=f"trade_id {trade.trade_id!r} is already in the ledger"
                )
        # One query per table for all symbols (an import may touch hundreds), rows locked by symbol order.
        SymbolBook.objects.bulk_create(
            [SymbolBook(account=account, symbol=symbol) for symbol in symbols], ignore_conflicts=True
        )
        book_rows = {
            row.symbol: row
            for row in SymbolBook.objects.select_for_update()
            .filter(account=account, symbol__in=symbols)
            .order_by("symbol")
        }
        events_by_symbol = {symbol: sorted(by_symbol[symbol], key=lambda e: (e[0], e[1], e[2])) for symbol in symbols}
        for symbol in symbols:
            row = book_rows[symbol]
            first_trade = next((e for e in events_by_symbol[symbol] if e[1] == 1), None)
            if first_trade and row.last_trade_date and first_trade[0] < row.last_trade_date:
                raise ImportFileError(
                    name=trades_name,
                    line=first_trade[2],
                    message=f"{symbol} trades in the ledger run to {row.last_trade_date}; "
                    "an import must not go back before them",
                )
        books = _books_load_many(
            account=account, rows=book_rows, first_day={s: e[0][0] for s, e in events_by_symbol.items()}
        )
        already: dict[str, set[dt.date]] = defaultdict(set)
        for symbol, ex_date in AppliedSplit.objects.filter(account=account, symbol__in=symbols).values_list(
            "symbol", "ex_date"
        ):
            already[symbol].add(ex_date)
        applied_splits: list[AppliedSplit] = []
        trade_rows: list[tuple] = []
        merged = engine.Changes()
        buys = sells = 0
        for symbol in symbols:
            book = books[symbol]
            last_day = book_rows[symbol].last_trade_date
            for day, kind, line, item in events_by_symbol[symbol]:
                if kind == 0:
                    if day not in already[symbol]:
                        applied_splits.append(
                            _split_apply(book=book, split=item, account=account, source="import", now=now)
                        )
                        already[symbol].add(day)
                    continue
                trade = item
                try:
                    if trade.side == engine.BUY:
                        book.buy(trade)
                        buys += 1
                    else:
                        book.sell(trade, method=method)
                        sells += 1
                except engine.LotError as exc:
                    raise ImportFileError(name=trades_name, line=line, message=str(exc)) from None
                last_day = day
                trade_rows.append(
                    (
                        account,
                        trade.execution_id,
                        trade.trade_id,
                        TaxTrade.Origin.IMPORT,
                        symbol,
                        trade.side,
                        trade.qty,
                        trade.price,
                        trade.commission,
                        day,
                        None,
                        None,
                        "import",
                        "",
                        ";".join(trade.lot_ids),
                        ("specific_id" if trade.lot_ids else method) if trade.side == engine.SELL else "",
                        "",
                    )  # fmt: skip
                )
            changes = book.take_changes()
            merged.lots.extend(changes.lots)
            merged.realized.extend(changes.realized)
            merged.washes.extend(changes.washes)
            merged.adjustments.extend(changes.adjustments)
            book_rows[symbol].next_seq = book.next_seq
            book_rows[symbol].last_trade_date = last_day
        _changes_write(account=account, changes=merged, now=now)
        SymbolBook.objects.bulk_update(list(book_rows.values()), ["next_seq", "last_trade_date"], batch_size=500)
        if connection.vendor == "postgresql":
            acc = _esc(account)
            _copy_lines(
                TaxTrade,
                TRADE_COLUMNS,
                [
                    f"{acc}\t{_esc(r[1])}\t{_esc(r[2])}\t{r[3]}\t{_esc(r[4])}\t{r[5]}\t{r[6]}\t{r[7]}\t{r[8]}\t{r[9]}"
                    f"\t\\N\t\\N\t{r[12]}\t\t{_esc(r[14])}\t{r[15]}\t"
                    for r in trade_rows
                ],
            )
        else:
            _insert(TaxTrade, TRADE_COLUMNS, trade_rows)
        AppliedSplit.objects.bulk_create(applied_splits)
        result = ImportResult(
            trades=len(trade_rows),
            buys=buys,
            sells=sells,
            splits=len(applied_splits),
            lots_created=sum(1 for lot in merged.lots if lot.new),
            realized_rows=sum(1 for r in merged.realized if r.new),
            wash_sales=len(merged.washes),
            disallowed_loss=sum((w.disallowed_loss for w in merged.washes), Decimal(0)).quantize(MONEY_QUANTUM),
        )
        action_record(
            actor=actor,
            action="tax.import",
            object_type="tax.taxtrade",
            data={
                "account": account,
                "method": method,
                "trades": result.trades,
                "splits": result.splits,
                "wash_sales": result.wash_sales,
            },
        )
    return result


def splits_sync(*, account: str = "default", upto: dt.date) -> int:
    """Apply market-data splits with ex-date on or before ``upto`` to every book of ``account``."""
    from strategies.models import CorporateAction

    now = clock.now()
    count = 0
    # One query for the books with a split still to apply, instead of a lock and a query per book;
    # each is re-read under its book lock below.
    symbols = sorted(
        set(
            CorporateAction.objects.filter(
                kind=CorporateAction.Kind.SPLIT,
                ex_date__lte=upto,
                asset__symbol__in=SymbolBook.objects.filter(account=account).values("symbol"),
            )
            .exclude(
                Exists(
                    AppliedSplit.objects.filter(
                        account=account, symbol=OuterRef("asset__symbol"), ex_date=OuterRef("ex_date")
                    )
                )
            )
            .values_list("asset__symbol", flat=True)
        )
    )
    for symbol in symbols:
        with transaction.atomic():
            book_row = _book_lock(account=account, symbol=symbol)
            pending = _market_splits(account=account, symbol=symbol, upto=upto)
            if not pending:
                continue
            book = _book_load(account=account, row=book_row, on=min(split.date for split in pending))
            rows = [_split_apply(book=book, split=s, account=account, source="market_data", now=now) for s in pending]
            _changes_write(account=account, changes=book.take_changes(), now=now)
            AppliedSplit.objects.bulk_create(rows)
            count += len(rows)
    return count
