"""Writes to the tax ledger: the fill listener, the trade-history import and split application.

Both doors — every platform fill (:func:`lots_apply_fill`, registered as the ``tax_lots`` fill
listener and called inside the fill's transaction) and ``manage.py tax_import``
(:func:`trades_import`) — load the symbol's book into the pure lot engine (``tax.engine``), apply
the trades, and write the engine's changes in bulk. A :class:`~tax.models.SymbolBook` row locked
with ``select_for_update`` serialises writers per account and symbol.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

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
def _lot_from_row(row: TaxLot) -> engine.Lot:
    return engine.Lot(
        id=row.id,
        symbol=row.symbol,
        trade_id=row.trade_id,
        execution_id=row.execution_id,
        root_id=row.root_id,
        parent_id=row.parent_id,
        seq=row.seq,
        sub=row.sub,
        acquired=row.acquired_date,
        holding_start=row.holding_period_start,
        price=row.price,
        qty=row.open_qty,
        basis=row.cost_basis_total,
        qty_original=row.qty_original,
        basis_original=row.basis_original,
        wash_absorbed=row.wash_absorbed,
        new=False,
    )


def _realized_from_row(row: RealizedGain) -> engine.Realized:
    return engine.Realized(
        id=row.id,
        symbol=row.symbol,
        sale_trade_id=row.sale_trade_id,
        sale_execution_id=row.sale_execution_id,
        lot_id=row.lot_id,
        lot_trade_id=row.lot_trade_id,
        root_id=row.root_lot_id,
        qty=row.qty,
        date_acquired=row.date_acquired,
        date_sold=row.date_sold,
        holding_start=row.holding_period_start,
        proceeds=row.proceeds,
        cost_basis=row.cost_basis,
        term=row.term,
        sale_seq=row.sale_seq,
        lot_seq=row.lot_seq,
        adjustment=row.adjustment_amount,
        wash_open_qty=row.wash_open_qty,
        wash_open_loss=row.wash_open_loss,
        new=False,
    )


def _lot_row(lot: engine.Lot, *, account: str, now: dt.datetime) -> TaxLot:
    return TaxLot(
        id=lot.id,
        account=account,
        symbol=lot.symbol,
        trade_id=lot.trade_id,
        execution_id=lot.execution_id,
        root_id=lot.root_id,
        parent_id=lot.parent_id,
        seq=lot.seq,
        sub=lot.sub,
        acquired_date=lot.acquired,
        holding_period_start=lot.holding_start,
        price=lot.price,
        qty_original=lot.qty_original,
        basis_original=lot.basis_original,
        open_qty=lot.qty,
        cost_basis_total=lot.basis,
        wash_absorbed=lot.wash_absorbed,
        status=TaxLot.Status.OPEN if lot.qty > 0 else TaxLot.Status.CLOSED,
        created_at=now,
    )


def _realized_row(r: engine.Realized, *, account: str, now: dt.datetime) -> RealizedGain:
    return RealizedGain(
        id=r.id,
        account=account,
        symbol=r.symbol,
        lot_id=r.lot_id,
        lot_trade_id=r.lot_trade_id,
        root_lot_id=r.root_id,
        sale_trade_id=r.sale_trade_id,
        sale_execution_id=r.sale_execution_id,
        sale_seq=r.sale_seq,
        lot_seq=r.lot_seq,
        qty=r.qty,
        date_acquired=r.date_acquired,
        date_sold=r.date_sold,
        holding_period_start=r.holding_start,
        proceeds=r.proceeds,
        cost_basis=r.cost_basis,
        adjustment_amount=r.adjustment,
        gain_loss=r.gain_loss,
        term=r.term,
        wash_open_qty=r.wash_open_qty,
        wash_open_loss=r.wash_open_loss,
        created_at=now,
    )


def _changes_write(*, account: str, changes: engine.Changes, now: dt.datetime) -> None:
    """Persist an engine's changes: bulk inserts for new rows, few statements for modified ones."""
    new_lots = [_lot_row(lot, account=account, now=now) for lot in changes.lots if lot.new]
    # Parents before children (deferred FKs make this moot on PostgreSQL; SQLite checks at commit too).
    TaxLot.objects.bulk_create(new_lots, batch_size=BATCH)
    wash_adjusted = {a.lot_id for a in changes.adjustments if a.kind != "split"}
    closed_plain = [lot.id for lot in changes.lots if lot.dirty and lot.qty == 0 and lot.id not in wash_adjusted]
    if closed_plain:
        for start in range(0, len(closed_plain), BATCH):
            TaxLot.objects.filter(pk__in=closed_plain[start : start + BATCH]).update(
                open_qty=0, cost_basis_total=0, status=TaxLot.Status.CLOSED
            )
    modified = [
        _lot_row(lot, account=account, now=now)
        for lot in changes.lots
        if lot.dirty and (lot.qty > 0 or lot.id in wash_adjusted)
    ]
    if modified:
        TaxLot.objects.bulk_update(
            modified,
            ["open_qty", "cost_basis_total", "holding_period_start", "wash_absorbed", "status"],
            batch_size=500,
        )
    RealizedGain.objects.bulk_create(
        [_realized_row(r, account=account, now=now) for r in changes.realized if r.new], batch_size=BATCH
    )
    touched = [_realized_row(r, account=account, now=now) for r in changes.realized if r.dirty]
    if touched:
        RealizedGain.objects.bulk_update(
            touched, ["adjustment_amount", "gain_loss", "wash_open_qty", "wash_open_loss"], batch_size=500
        )
    WashSale.objects.bulk_create(
        [
            WashSale(
                id=w.id,
                account=account,
                symbol=w.symbol,
                realized_id=w.realized_id,
                sale_trade_id=w.sale_trade_id,
                lot_trade_id=w.lot_trade_id,
                original_sale_date=w.date_sold,
                replacement_lot_id=w.replacement_lot_id,
                replacement_trade_id=w.replacement_trade_id,
                triggering_purchase_date=w.replacement_acquired,
                qty=w.qty,
                disallowed_loss=w.disallowed_loss,
                holding_start_before=w.holding_start_before,
                holding_start_after=w.holding_start_after,
                detected_on=w.detected_on,
                created_at=now,
            )
            for w in changes.washes
        ],
        batch_size=BATCH,
    )
    LotAdjustment.objects.bulk_create(
        [
            LotAdjustment(
                lot_id=a.lot_id,
                kind=a.kind,
                day=a.day,
                qty_before=a.qty_before,
                qty_after=a.qty_after,
                basis_before=a.basis_before,
                basis_after=a.basis_after,
                holding_start_before=a.holding_start_before,
                holding_start_after=a.holding_start_after,
                reference=a.reference[:80],
                created_at=now,
            )
            for a in changes.adjustments
        ],
        batch_size=BATCH,
    )


def _book_lock(*, account: str, symbol: str) -> SymbolBook:
    SymbolBook.objects.get_or_create(account=account, symbol=symbol)
    return SymbolBook.objects.select_for_update().get(account=account, symbol=symbol)


def _book_load(*, account: str, row: SymbolBook, on: dt.date, with_known_ids: bool = False) -> engine.SymbolBook:
    lots = [
        _lot_from_row(r) for r in TaxLot.objects.filter(account=account, symbol=row.symbol, status=TaxLot.Status.OPEN)
    ]
    pending = [
        _realized_from_row(r)
        for r in RealizedGain.objects.filter(
            account=account,
            symbol=row.symbol,
            wash_open_qty__gt=0,
            date_sold__gte=on - dt.timedelta(days=engine.WASH_WINDOW_DAYS),
        )
    ]
    known = None
    if with_known_ids:
        known = set(
            TaxLot.objects.filter(account=account, symbol=row.symbol).values_list("trade_id", flat=True).distinct()
        )
    return engine.SymbolBook(
        symbol=row.symbol, lots=lots, pending=pending, next_seq=row.next_seq, known_trade_ids=known
    )


def _market_splits(*, account: str, symbol: str, upto: dt.date) -> list[SplitRow]:
    """Splits in the shared market data not yet applied to this account's ledger."""
    from strategies.models import CorporateAction

    applied = set(AppliedSplit.objects.filter(account=account, symbol=symbol).values_list("ex_date", flat=True))
    rows = CorporateAction.objects.filter(
        asset__symbol=symbol, kind=CorporateAction.Kind.SPLIT, ex_date__lte=upto
    ).order_by("ex_date")
    return [
        SplitRow(line=0, date=ca.ex_date, symbol=symbol, ratio_from=ca.ratio_from, ratio_to=ca.ratio_to)
        for ca in rows
        if ca.ex_date not in applied
    ]


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
    now = clock.now()
    with transaction.atomic():
        book_row = _book_lock(account=account, symbol=symbol)
        trade_row, created = TaxTrade.objects.get_or_create(
            account=account,
            execution_id=event.execution_id,
            defaults={
                "trade_id": event.client_order_id,
                "origin": TaxTrade.Origin.FILL,
                "symbol": symbol,
                "side": event.side,
                "qty": event.qty,
                "price": event.price,
                "commission": event.commission or Decimal(0),
                "trade_date": day,
                "executed_at": event.executed_at,
                "order_id": event.order_id,
                "source": event.source,
                "strategy": event.strategy,
                "method": conf.LOT_METHOD if event.side == engine.SELL else "",
            },
        )
        if not created:
            return None  # a duplicate delivery: already applied
        book = _book_load(account=account, row=book_row, on=day)
        splits = [
            _split_apply(book=book, split=s, account=account, source="market_data", now=now)
            for s in _market_splits(account=account, symbol=symbol, upto=day)
        ]
        trade = engine.Trade(
            trade_id=event.client_order_id,
            date=day,
            side=event.side,
            symbol=symbol,
            qty=event.qty,
            price=event.price,
            commission=event.commission or Decimal(0),
            execution_id=event.execution_id,
        )
        try:
            if trade.side == engine.BUY:
                book.buy(trade)
            elif trade.side == engine.SELL:
                book.sell(trade, method=conf.LOT_METHOD)
            else:
                raise engine.LotError(f"side {trade.side!r} must be buy or sell")
        except engine.LotError as exc:
            trade_row.error = str(exc)
            trade_row.save(update_fields=["error"])
            AppliedSplit.objects.bulk_create(splits)
            _changes_write(account=account, changes=book.take_changes(), now=now)  # splits only
            book_row.next_seq = book.next_seq
            book_row.save(update_fields=["next_seq"])
            alert_raise(
                source="tax",
                metric="tax_lot_error",
                severity=Alert.Severity.CRITICAL,
                message=f"Tax ledger could not apply fill {event.execution_id} ({symbol}): {exc}",
                data={"execution_id": event.execution_id, "symbol": symbol},
            )
            return trade_row
        AppliedSplit.objects.bulk_create(splits)
        _changes_write(account=account, changes=book.take_changes(), now=now)
        book_row.next_seq = book.next_seq
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
        existing = set(
            TaxTrade.objects.filter(account=account, execution_id__in=[t.execution_id for _, t in trades]).values_list(
                "execution_id", flat=True
            )
        )
        for line, trade in trades:
            if trade.execution_id in existing:
                raise ImportFileError(
                    name=trades_name, line=line, message=f"trade_id {trade.trade_id!r} is already in the ledger"
                )
        applied_splits: list[AppliedSplit] = []
        trade_rows: list[TaxTrade] = []
        totals = {"buys": 0, "sells": 0, "lots": 0, "realized": 0, "washes": 0, "disallowed": Decimal(0)}
        for symbol in sorted(by_symbol):
            events = sorted(by_symbol[symbol], key=lambda e: (e[0], e[1], e[2]))
            book_row = _book_lock(account=account, symbol=symbol)
            first_trade = next((e for e in events if e[1] == 1), None)
            if first_trade and book_row.last_trade_date and first_trade[0] < book_row.last_trade_date:
                raise ImportFileError(
                    name=trades_name,
                    line=first_trade[2],
                    message=f"{symbol} trades in the ledger run to {book_row.last_trade_date}; "
                    "an import must not go back before them",
                )
            on = events[0][0]
            book = _book_load(account=account, row=book_row, on=on, with_known_ids=True)
            already = set(AppliedSplit.objects.filter(account=account, symbol=symbol).values_list("ex_date", flat=True))
            last_day = book_row.last_trade_date
            for day, kind, line, item in events:
                if kind == 0:
                    if day in already:
                        continue
                    applied_splits.append(
                        _split_apply(book=book, split=item, account=account, source="import", now=now)
                    )
                    already.add(day)
                    continue
                trade = item
                try:
                    if trade.side == engine.BUY:
                        book.buy(trade)
                        totals["buys"] += 1
                    else:
                        book.sell(trade, method=method)
                        totals["sells"] += 1
                except engine.LotError as exc:
                    raise ImportFileError(name=trades_name, line=line, message=str(exc)) from None
                last_day = day
                trade_rows.append(
                    TaxTrade(
                        account=account,
                        execution_id=trade.execution_id,
                        trade_id=trade.trade_id,
                        origin=TaxTrade.Origin.IMPORT,
                        symbol=symbol,
                        side=trade.side,
                        qty=trade.qty,
                        price=trade.price,
                        commission=trade.commission,
                        trade_date=day,
                        source="import",
                        lot_ids=";".join(trade.lot_ids),
                        method=("specific_id" if trade.lot_ids else method) if trade.side == engine.SELL else "",
                    )
                )
            changes = book.take_changes()
            totals["lots"] += sum(1 for lot in changes.lots if lot.new)
            totals["realized"] += sum(1 for r in changes.realized if r.new)
            totals["washes"] += len(changes.washes)
            totals["disallowed"] += sum((w.disallowed_loss for w in changes.washes), Decimal(0))
            _changes_write(account=account, changes=changes, now=now)
            book_row.next_seq = book.next_seq
            book_row.last_trade_date = last_day
            book_row.save(update_fields=["next_seq", "last_trade_date"])
        TaxTrade.objects.bulk_create(trade_rows, batch_size=BATCH)
        AppliedSplit.objects.bulk_create(applied_splits)
        result = ImportResult(
            trades=len(trade_rows),
            buys=totals["buys"],
            sells=totals["sells"],
            splits=len(applied_splits),
            lots_created=totals["lots"],
            realized_rows=totals["realized"],
            wash_sales=totals["washes"],
            disallowed_loss=totals["disallowed"].quantize(MONEY_QUANTUM),
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
    now = clock.now()
    count = 0
    symbols = list(SymbolBook.objects.filter(account=account).values_list("symbol", flat=True))
    for symbol in symbols:
        with transaction.atomic():
            book_row = _book_lock(account=account, symbol=symbol)
            pending = _market_splits(account=account, symbol=symbol, upto=upto)
            if not pending:
                continue
            book = _book_load(account=account, row=book_row, on=upto)
            rows = [_split_apply(book=book, split=s, account=account, source="market_data", now=now) for s in pending]
            _changes_write(account=account, changes=book.take_changes(), now=now)
            AppliedSplit.objects.bulk_create(rows)
            count += len(rows)
    return count
