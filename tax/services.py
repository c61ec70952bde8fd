"""Writes to the tax ledger: the fill listener, the trade-history import and split application.

Both doors — every platform fill (:func:`lots_apply_fill`, registered as the ``tax_lots`` fill
listener and called inside the fill's transaction) and ``manage.py tax_import``
(:func:`trades_import`) — load the symbol's book into the pure lot engine (``tax.engine``), apply
the trades, and write the engine's changes in bulk. A :class:`~tax.models.SymbolBook` row locked
with ``select_for_update`` serialises writers per account and symbol.
"""

from __future__ import annotations

import datetime as dt
import functools
import queue
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

import psycopg
from django.db import connection, models, transaction
from django.db.models import Exists, OuterRef

from marketdata.models import CorporateAction
from orders.events import FillEvent
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
from trading_site.alerts import alert_raise
from trading_site.audit import action_record
from trading_site.lib import clock
from trading_site.lib.actors import Actor
from trading_site.lib.money import MONEY_QUANTUM
from trading_site.lib.sql import sqlite_rows_insert
from trading_site.models import Alert

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


# -- one write path -------------------------------------------------------------------------------
# Every insert of the ledger goes through :func:`_rows_insert`: COPY on PostgreSQL, ``bulk_create``
# batches elsewhere (the embedded SQLite run). Its column lists are the models' own fields
# (:func:`model_columns`); the ``*_row`` functions give each engine object's value per field, with
# engine ids as ints (written as UUIDs), and a model field without a value fails loudly.
def model_columns(model: type[models.Model]) -> tuple[str, ...]:
    """The columns an insert writes: every concrete field but an auto-increment key (``attname``)."""
    return tuple(f.attname for f in model._meta.concrete_fields if not f.auto_created)


def _lot_row(lot: engine.Lot, account: str, now: dt.datetime) -> dict:
    return {
        "id": lot.id, "account": account, "symbol": lot.symbol, "trade_id": lot.trade_id,
        "execution_id": lot.execution_id, "root_id": lot.root_id, "parent_id": lot.parent_id, "seq": lot.seq,
        "sub": lot.sub, "acquired_date": lot.acquired, "holding_period_start": lot.holding_start,
        "price": lot.price, "qty_original": lot.qty_original, "basis_original": lot.basis_original,
        "open_qty": lot.qty, "cost_basis_total": lot.basis, "wash_absorbed": lot.wash_absorbed,
        "status": TaxLot.Status.OPEN.value if lot.qty > 0 else TaxLot.Status.CLOSED.value, "created_at": now,
    }  # fmt: skip


def _realized_row(r: engine.Realized, account: str, now: dt.datetime) -> dict:
    return {
        "id": r.id, "account": account, "symbol": r.symbol, "lot_id": r.lot_id, "lot_trade_id": r.lot_trade_id,
        "root_lot_id": r.root_id, "sale_trade_id": r.sale_trade_id, "sale_execution_id": r.sale_execution_id,
        "sale_seq": r.sale_seq, "lot_seq": r.lot_seq, "piece": r.piece, "qty": r.qty,
        "date_acquired": r.date_acquired, "date_sold": r.date_sold, "holding_period_start": r.holding_start,
        "proceeds": r.proceeds, "cost_basis": r.cost_basis, "adjustment_amount": r.adjustment,
        "gain_loss": r.gain_loss, "term": r.term, "wash_open_qty": r.wash_open_qty,
        "wash_open_loss": r.wash_open_loss, "created_at": now,
    }  # fmt: skip


def _wash_row(w: engine.Wash, account: str, now: dt.datetime) -> dict:
    return {
        "id": w.id, "account": account, "symbol": w.symbol, "realized_id": w.realized_id,
        "sale_trade_id": w.sale_trade_id, "lot_trade_id": w.lot_trade_id, "original_sale_date": w.date_sold,
        "replacement_lot_id": w.replacement_lot_id, "replacement_trade_id": w.replacement_trade_id,
        "triggering_purchase_date": w.replacement_acquired, "qty": w.qty, "disallowed_loss": w.disallowed_loss,
        "holding_start_before": w.holding_start_before, "holding_start_after": w.holding_start_after,
        "detected_on": w.detected_on, "created_at": now,
    }  # fmt: skip


def _adjustment_row(a: engine.Adjustment, now: dt.datetime) -> dict:
    return {
        "lot_id": a.lot_id, "kind": a.kind, "day": a.day, "qty_before": a.qty_before, "qty_after": a.qty_after,
        "basis_before": a.basis_before, "basis_after": a.basis_after,
        "holding_start_before": a.holding_start_before, "holding_start_after": a.holding_start_after,
        "reference": a.reference[:80], "created_at": now,
    }  # fmt: skip


def _trade_row(trade: engine.Trade, account: str, method: str) -> dict:
    return {
        "account": account, "execution_id": trade.execution_id, "trade_id": trade.trade_id,
        "origin": TaxTrade.Origin.IMPORT.value, "symbol": trade.symbol, "side": trade.side, "qty": trade.qty,
        "price": trade.price, "commission": trade.commission, "trade_date": trade.date, "executed_at": None,
        "order_id": None, "source": "import", "strategy": "", "lot_ids": ";".join(trade.lot_ids),
        "method": ("specific_id" if trade.lot_ids else method) if trade.side == engine.SELL else "", "error": "",
    }  # fmt: skip


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class _DateTexts(dict):
    """``date`` -> its ISO text, each formatted once (``str(date)`` costs as much as the rest of a row's
    formatting); bounded by the number of distinct days written."""

    def __missing__(self, day: dt.date) -> str:
        text = self[day] = day.isoformat()
        return text


def _is_uuid(field) -> bool:
    return isinstance(field, models.UUIDField) or (
        field.is_relation and isinstance(field.target_field, models.UUIDField)
    )


@functools.cache
def _copy_line_function(model) -> Callable[[dict], str]:
    """A function from a row (dict by ``attname``) to its COPY text line, compiled once per model
    from its fields: one ``%`` format of the whole line, no call per value — formatting value by
    value through per-column callables costs more than the database's work for 10^5-10^6 rows."""
    specs, expressions = [], []
    for name in model_columns(model):
        field = model._meta.get_field(name)
        value = f"r[{name!r}]"
        spec = "%s"
        if _is_uuid(field):  # engine ids are 128-bit ints
            spec, text = ("%s", f"('%032x' % {value})") if field.null else ("%032x", value)
        elif isinstance(field, models.BooleanField):
            text = f"('t' if {value} else 'f')"
        elif isinstance(field, models.DateTimeField):
            text = f"_iso({value})"
        elif isinstance(field, models.DateField):
            text = f"_DATES[{value}]"  # a history has a few thousand distinct days: each formatted once
        elif isinstance(field, models.CharField | models.TextField):
            # Almost no value needs escaping: two scans in C instead of a translate() per value.
            text = f"(_esc(_v) if not (_v := {value}).isprintable() or '\\\\' in _v else _v)"
        else:  # numbers, decimals: their str() (what %s gives) is PostgreSQL's text form
            text = value
        if field.null:
            text = f"(_NULL if {value} is None else {text if text != value else f'str({value})'})"
        specs.append(spec)
        expressions.append(text)
    line_format = "\t".join(specs)
    source = f"def line(r):\n    return {line_format!r} % ({', '.join(expressions)},)\n"
    namespace = {
        "_esc": lambda text: text.translate(_COPY_ESCAPES),
        "_DATES": _DateTexts(),
        "_NULL": "\\N",
        "_iso": functools.lru_cache(maxsize=16)(dt.datetime.isoformat),  # created_at: one value per write
    }
    exec(compile(source, f"<COPY line of {model.__name__}>", "exec"), namespace)  # the source is built above
    return namespace["line"]


def _python_value(field):
    """The value Django expects for one field when the rows go through ``bulk_create``."""
    if _is_uuid(field):
        return lambda v: None if v is None else uuid.UUID(int=v)
    return lambda v: v


def _rows_insert(model, rows: Iterable[dict], *, raw: psycopg.Connection | None = None) -> int:
    """Insert rows (dicts by field ``attname``) into ``model``'s table; returns how many.

    ``raw``: the PostgreSQL connection to COPY on, for a caller in another thread than the one
    owning Django's connection (:class:`_BackgroundInserts`); by default Django's connection."""
    columns = model_columns(model)
    fields = [model._meta.get_field(c) for c in columns]
    count = 0
    if raw is not None or connection.vendor == "postgresql":
        line = _copy_line_function(model)
        quoted = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({quoted}) FROM STDIN"
        if raw is None:
            connection.ensure_connection()
            raw = connection.connection
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            lines = []
            for row in rows:
                lines.append(line(row))
                if len(lines) == 500:
                    copy.write("\n".join(lines) + "\n")
                    count += len(lines)
                    lines.clear()
            if lines:
                copy.write("\n".join(lines) + "\n")
                count += len(lines)
        return count
    converters = [_python_value(f) for f in fields]
    if connection.vendor == "sqlite":  # one executemany (a replay's store, the embedded default)
        return sqlite_rows_insert(
            model, columns, ([conv(row[c]) for c, conv in zip(columns, converters, strict=True)] for row in rows)
        )
    batch = []
    for row in rows:
        batch.append(model(**{c: conv(row[c]) for c, conv in zip(columns, converters, strict=True)}))
        if len(batch) == BATCH:
            model.objects.bulk_create(batch, batch_size=500)
            count += len(batch)
            batch.clear()
    if batch:
        model.objects.bulk_create(batch, batch_size=500)
        count += len(batch)
    return count


def _instances(model, rows: Iterable[dict]) -> list:
    conv = {f.attname: _python_value(f) for f in model._meta.concrete_fields}
    return [model(**{k: conv[k](v) for k, v in row.items()}) for row in rows]


def _changes_write(
    *, account: str, changes: engine.Changes, now: dt.datetime, wash_adjusted: set[int] | None = None
) -> None:
    """Persist an engine's changes: bulk inserts for new rows, few statements for modified ones.

    ``wash_adjusted``: ids of lots loaded from the database whose holding period or basis a wash
    sale changed (the import writes its changes in several parts; by default, this part's)."""
    # New rows first: lots updated below may be referenced by new realized rows (FKs are not checked anyway).
    _changes_insert(account=account, changes=changes, now=now)
    _changes_update(account=account, changes=changes, now=now, wash_adjusted=wash_adjusted)


def _changes_insert(
    *, account: str, changes: engine.Changes, now: dt.datetime, raw: psycopg.Connection | None = None
) -> None:
    """The new rows of :func:`_changes_write` (``raw``: as :func:`_rows_insert`)."""
    _rows_insert(TaxLot, (_lot_row(lot, account, now) for lot in changes.lots if lot.new), raw=raw)
    _rows_insert(RealizedGain, (_realized_row(r, account, now) for r in changes.realized if r.new), raw=raw)
    _rows_insert(WashSale, (_wash_row(w, account, now) for w in changes.washes), raw=raw)
    _rows_insert(LotAdjustment, (_adjustment_row(a, now) for a in changes.adjustments), raw=raw)


def _has_updates(changes: engine.Changes) -> bool:
    """Whether :func:`_changes_update` has anything to write (rows loaded from the database changed)."""
    return any(lot.dirty for lot in changes.lots) or any(r.dirty for r in changes.realized)


def _changes_update(
    *, account: str, changes: engine.Changes, now: dt.datetime, wash_adjusted: set[int] | None = None
) -> None:
    """The modified rows of :func:`_changes_write`: rows loaded from the database that changed."""
    if wash_adjusted is None:
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
    modified = _instances(
        TaxLot,
        (_lot_row(lot, account, now) for lot in changes.lots if lot.dirty and (lot.qty > 0 or lot.id in wash_adjusted)),
    )
    if modified:
        TaxLot.objects.bulk_update(
            modified,
            ["open_qty", "cost_basis_total", "holding_period_start", "wash_absorbed", "status"],
            batch_size=500,
        )
    touched = _instances(RealizedGain, (_realized_row(r, account, now) for r in changes.realized if r.dirty))
    if touched:
        RealizedGain.objects.bulk_update(
            touched, ["adjustment_amount", "gain_loss", "wash_open_qty", "wash_open_loss"], batch_size=500
        )


class _BackgroundInserts:
    """An import's bulk inserts (COPY), run one after another by a worker thread on the import's own
    PostgreSQL connection (inside its transaction) while the engine goes on with the next events:
    the database's share of an import — parsing, indexing and logging a million rows, as long as the
    engine's — then runs beside the engine instead of after it.

    Rules: between :meth:`submit` and :meth:`wait` the worker is the connection's only user (the
    caller waits before any statement of its own, and :meth:`close` before leaving the
    transaction); a job only reads objects the engine no longer changes (what ``_ImportWriter``
    settled); an error in the worker is raised in the caller at its next :meth:`submit` or
    :meth:`wait`, and the transaction rolls back. At most one job waits behind the running one, so
    memory stays bounded."""

    def __init__(self, raw: psycopg.Connection) -> None:
        self.raw = raw
        self.jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="tax-import-inserts", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                if self.error is None:  # after an error the transaction is lost: skip the rest
                    job()
            except BaseException as exc:  # handed to the caller, which rolls back
                self.error = exc
            finally:
                self.jobs.task_done()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def submit(self, job: Callable[[], None]) -> None:
        self._raise()
        self.jobs.put(job)

    def wait(self) -> None:
        """Until every job submitted is done; raises the worker's error."""
        self.jobs.join()
        self._raise()

    def close(self) -> None:
        """Stop the worker (after the job it is running); idempotent."""
        if self.thread.is_alive():
            self.jobs.put(None)
            self.thread.join()


class _ImportWriter:
    """Writes an import's changes while the engine runs, so memory stays flat in the history.

    A row is written once it can no longer change: a lot once closed, a realized row once its loss
    is fully matched or 30 days old (no later purchase can replace it), wash sales and adjustments
    at once. The rest (open lots, recent open losses) is written at the end. On PostgreSQL the
    inserts run in the background (:class:`_BackgroundInserts`); :meth:`close` ends them."""

    def __init__(self, *, account: str, now: dt.datetime, existing_lots: set[int]) -> None:
        self.account, self.now = account, now
        self.background: _BackgroundInserts | None = None
        if connection.vendor == "postgresql":
            connection.ensure_connection()
            self.background = _BackgroundInserts(connection.connection)
        self.existing_lots = existing_lots
        self.wash_adjusted: set[int] = set()  # of the existing lots
        self.lots: dict[int, engine.Lot] = {}
        self.realized: dict[int, engine.Realized] = {}
        self.lots_created = self.realized_rows = self.wash_sales = 0
        self.disallowed = Decimal(0)

    def write(self, changes: engine.Changes, *, day: dt.date | None) -> None:
        """Write what ``changes`` settled, all events up to ``day`` applied (None: the end)."""
        closed = []
        for lot in changes.lots:  # lots change only when touched, so every change is in ``changes``
            if lot.qty > 0:
                self.lots[lot.id] = lot
            else:
                self.lots.pop(lot.id, None)
                closed.append(lot)
        for row in changes.realized:
            self.realized[row.id] = row
        self.wash_adjusted.update(
            a.lot_id for a in changes.adjustments if a.kind != "split" and a.lot_id in self.existing_lots
        )
        if day is None:
            lots, realized = closed + list(self.lots.values()), list(self.realized.values())
            self.lots.clear()
            self.realized.clear()
        else:
            # A closed lot is written and forgotten; open losses settle once matched or sold more
            # than 30 days before the events still to come.
            horizon = day - dt.timedelta(days=engine.WASH_WINDOW_DAYS)
            lots = closed
            realized = [r for r in self.realized.values() if r.wash_open_qty == 0 or r.date_sold < horizon]
            for row in realized:
                del self.realized[row.id]
        self.lots_created += sum(1 for lot in lots if lot.new)
        self.realized_rows += sum(1 for r in realized if r.new)
        self.wash_sales += len(changes.washes)
        self.disallowed += sum((w.disallowed_loss for w in changes.washes), Decimal(0))
        part = engine.Changes(lots=lots, realized=realized, washes=changes.washes, adjustments=changes.adjustments)
        if self.background is None:
            _changes_write(account=self.account, changes=part, now=self.now, wash_adjusted=self.wash_adjusted)
            return
        raw = self.background.raw
        self.background.submit(lambda: _changes_insert(account=self.account, changes=part, now=self.now, raw=raw))
        if _has_updates(part) or day is None:
            self.background.wait()  # the connection is this thread's again
            _changes_update(account=self.account, changes=part, now=self.now, wash_adjusted=self.wash_adjusted)

    def insert(self, model, rows: Callable[[], Iterable[dict]]) -> None:
        """:func:`_rows_insert` of ``rows()``, in the background when there is one."""
        if self.background is None:
            _rows_insert(model, rows())
            return
        raw = self.background.raw
        self.background.submit(lambda: _rows_insert(model, rows(), raw=raw))

    def close(self) -> None:
        """End the background inserts (every one done or abandoned): before leaving the transaction."""
        if self.background is not None:
            self.background.close()


def _book_lock(*, account: str, symbol: str) -> SymbolBook:
    """Lock (creating on first use) the book row that serialises writers of this account and symbol."""
    row = SymbolBook.objects.select_for_update().filter(account=account, symbol=symbol).first()
    if row is None:
        SymbolBook.objects.bulk_create([SymbolBook(account=account, symbol=symbol)], ignore_conflicts=True)
        row = SymbolBook.objects.select_for_update().get(account=account, symbol=symbol)
    return row


def book_load(*, account: str, row: SymbolBook, on: dt.date, with_pending: bool = True) -> engine.SymbolBook:
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
    """:func:`book_load` for many symbols with one query per table (imports)."""
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
def lots_apply_fill(event: FillEvent) -> TaxTrade | None:
    """Fill listener: apply one fill (``orders.events.FillEvent``) to the ledger, idempotently.

    Runs inside the fill's transaction. A fill the ledger cannot apply (a sell larger than the tax
    position — e.g. history not imported yet) does not abort the fill: it is stored with the reason
    and raises a critical alert, so trading continues and the gap is visible.
    """

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
        book = book_load(
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


FLUSH_EVERY = 2_000  # events between two writes of what the import settled (bounds its memory)


def trades_import(
    *,
    trades: list[tuple[int, engine.Trade]],
    splits: list[SplitRow] | None = None,
    method: str = engine.FIFO,
    account: str = "default",
    actor: Actor = None,
    trades_name: str = "trades",
    splits_name: str = "corporate-actions",
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Apply parsed trades (and splits) in date order, file order within a date; all or nothing.

    The whole history runs through the in-memory engine (:class:`tax.engine.Ledger`) in one pass;
    what it settles is written in bulk every :data:`FLUSH_EVERY` events inside the one transaction.
    ``progress(done, total)`` is called as events are applied. Raises
    :class:`~tax.csvio.ImportFileError` naming the line of the first trade that cannot be applied,
    or :class:`TaxImportError`; nothing is written in either case.
    """

    if method not in engine.METHODS:
        raise TaxImportError(f"method must be one of {', '.join(engine.METHODS)}")
    with transaction.atomic():
        result = _ledger_apply_bulk(
            trades=trades,
            splits=splits or [],
            method=method,
            account=account,
            origin=TaxTrade.Origin.IMPORT,
            trades_name=trades_name,
            progress=progress,
            trade_row=lambda trade: _trade_row(trade, account, method),
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


def lots_apply_fills(*, events: list[FillEvent], account: str = "default") -> ImportResult:
    """Door 1 in bulk: many fills (``orders.events.FillEvent``, in execution order) applied to the ledger
    at once — a replay's fills, written into its own store when it ends (ADR 0019).

    The same engine pass as :func:`trades_import` (one :class:`tax.engine.Ledger` in memory, the market's
    splits due in the window applied in date order, bulk writes), and the same rows as
    :func:`lots_apply_fill` would have written one fill at a time: ``origin=fill`` trades carrying the
    order, source and strategy, relieved by ``TAX_LOT_METHOD``. All or nothing.
    """

    if not events:
        return ImportResult(0, 0, 0, 0, 0, 0, 0, Decimal(0))
    by_execution = {event.execution_id: event for event in events}
    trades = [
        (
            line,
            engine.Trade(
                trade_id=event.client_order_id,
                date=trade_date_of(event.executed_at),
                side=event.side,
                symbol=event.symbol.upper(),
                qty=event.qty,
                price=event.price,
                commission=event.commission or Decimal(0),
                execution_id=event.execution_id,
            ),
        )
        for line, event in enumerate(events, start=1)
    ]
    upto = max(trade.date for _, trade in trades)
    splits = [
        SplitRow(line=0, date=d, symbol=symbol, ratio_from=f, ratio_to=t)
        for symbol, d, f, t in CorporateAction.objects.filter(
            asset__symbol__in=sorted({t.symbol for _, t in trades}), kind=CorporateAction.Kind.SPLIT, ex_date__lte=upto
        )
        .order_by("ex_date")
        .values_list("asset__symbol", "ex_date", "ratio_from", "ratio_to")
    ]

    def fill_row(trade: engine.Trade) -> dict:
        event = by_execution[trade.execution_id]
        return {
            "account": account, "execution_id": trade.execution_id, "trade_id": trade.trade_id,
            "origin": TaxTrade.Origin.FILL.value, "symbol": trade.symbol, "side": trade.side, "qty": trade.qty,
            "price": trade.price, "commission": trade.commission, "trade_date": trade.date,
            "executed_at": event.executed_at, "order_id": event.order_id, "source": event.source,
            "strategy": event.strategy, "lot_ids": "", "method": conf.LOT_METHOD if trade.side == engine.SELL else "",
            "error": "",
        }  # fmt: skip

    with transaction.atomic():
        return _ledger_apply_bulk(
            trades=trades,
            splits=splits,
            method=conf.LOT_METHOD,
            account=account,
            origin=TaxTrade.Origin.FILL,
            trades_name="fills",
            progress=None,
            trade_row=fill_row,
            split_source="market_data",
        )


def _ledger_apply_bulk(
    *,
    trades: list[tuple[int, engine.Trade]],
    splits: list[SplitRow],
    method: str,
    account: str,
    origin: str,
    trades_name: str,
    progress: Callable[[int, int], None] | None,
    trade_row: Callable[[engine.Trade], dict],
    split_source: str = "import",
) -> ImportResult:
    """The engine pass shared by the import and the bulk fill door (the caller holds the transaction)."""
    now = clock.now()
    first_day: dict[str, dt.date] = {}
    first_line: dict[str, tuple[dt.date, int]] = {}
    for line, trade in trades:
        if trade.symbol not in first_line or (trade.date, line) < first_line[trade.symbol]:
            first_line[trade.symbol] = (trade.date, line)
    for item in [*(t for _, t in trades), *splits]:
        first_day[item.symbol] = min(item.date, first_day.get(item.symbol, item.date))
    symbols = sorted(first_day)

    existing = set(
        TaxTrade.objects.filter(account=account, origin=origin, symbol__in=symbols).values_list(
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
    for symbol, (day, line) in sorted(first_line.items()):
        last = book_rows[symbol].last_trade_date
        if last and day < last:
            raise ImportFileError(
                name=trades_name,
                line=line,
                message=f"{symbol} trades in the ledger run to {last}; an import must not go back before them",
            )
    books = _books_load_many(account=account, rows=book_rows, first_day=first_day)
    already: set[tuple[str, dt.date]] = set(
        AppliedSplit.objects.filter(account=account, symbol__in=symbols).values_list("symbol", "ex_date")
    )
    new_splits = []
    for split in splits:
        if (split.symbol, split.date) not in already:
            already.add((split.symbol, split.date))
            new_splits.append(split)
    events = engine.events_ordered(
        (trade for _, trade in trades),
        (
            engine.Split(symbol=s.symbol, date=s.date, ratio_from=s.ratio_from, ratio_to=s.ratio_to)
            for s in new_splits
        ),
    )
    ledger = engine.Ledger(method=method, books=books)
    writer = _ImportWriter(
        account=account, now=now, existing_lots={lot.id for book in books.values() for lot in book.lots}
    )
    applied_splits: list[AppliedSplit] = []
    last_day: dict[str, dt.date] = {}
    buys = sells = 0
    total = len(events)
    try:
        for done, event in enumerate(events, start=1):
            try:
                result = ledger.apply(event)
            except engine.LotError as exc:
                line = next(line for line, trade in trades if trade is event)
                raise ImportFileError(name=trades_name, line=line, message=str(exc)) from None
            if isinstance(event, engine.Split):
                applied_splits.append(
                    AppliedSplit(
                        account=account, symbol=event.symbol, ex_date=event.date, ratio_from=event.ratio_from,
                        ratio_to=event.ratio_to, lots_adjusted=len(result), source=split_source, created_at=now,
                    )
                )  # fmt: skip
            else:
                last_day[event.symbol] = event.date
                if event.side == engine.BUY:
                    buys += 1
                else:
                    sells += 1
            if done % FLUSH_EVERY == 0:
                writer.write(ledger.take_changes(), day=event.date)
            if progress is not None and (done % 1000 == 0 or done == total):
                progress(done, total)
        writer.insert(TaxTrade, lambda: (trade_row(trade) for _, trade in trades))
        writer.write(ledger.take_changes(), day=None)
    finally:
        writer.close()  # before any other statement, and before leaving the transaction
    for symbol, row in book_rows.items():
        row.next_seq = ledger.book(symbol).next_seq
        row.last_trade_date = last_day.get(symbol, row.last_trade_date)
    SymbolBook.objects.bulk_update(list(book_rows.values()), ["next_seq", "last_trade_date"], batch_size=500)
    AppliedSplit.objects.bulk_create(applied_splits)
    return ImportResult(
        trades=len(trades),
        buys=buys,
        sells=sells,
        splits=len(applied_splits),
        lots_created=writer.lots_created,
        realized_rows=writer.realized_rows,
        wash_sales=writer.wash_sales,
        disallowed_loss=writer.disallowed.quantize(MONEY_QUANTUM),
    )


def splits_sync(*, account: str = "default", upto: dt.date) -> int:
    """Apply market-data splits with ex-date on or before ``upto`` to every book of ``account``."""

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
            book = book_load(account=account, row=book_row, on=min(split.date for split in pending))
            rows = [_split_apply(book=book, split=s, account=account, source="market_data", now=now) for s in pending]
            _changes_write(account=account, changes=book.take_changes(), now=now)
            AppliedSplit.objects.bulk_create(rows)
            count += len(rows)
    return count
