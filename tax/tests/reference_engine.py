"""A deliberately simple lot engine, kept only to check the real one (``tax.engine``) against.

Same rules, written the obvious way: one list of open lots scanned and re-sorted for every sale, a
list of unmatched losses filtered on every purchase, the 30-day window found by scanning every open
lot. Quadratic, and easy to read next to docs/CONCEPTS/tax-accounting.md. No ids, no change
tracking: it produces the rows a report shows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from tax.engine import FIFO, HIFO, LIFO, SPECIFIC_ID, LotError, term_for
from trading_site.lib.money import QTY_QUANTUM, quantize_money

WINDOW = dt.timedelta(days=30)


@dataclass(eq=False)
class RefLot:
    trade_id: str
    root: object  # the purchase this lot descends from (its own RefLot for a purchase)
    seq: int
    sub: int
    acquired: dt.date
    holding_start: dt.date
    qty: Decimal
    basis: Decimal
    absorbed: bool = False


@dataclass(eq=False)
class RefRow:
    sale_trade_id: str
    lot_trade_id: str
    qty: Decimal
    date_acquired: dt.date
    date_sold: dt.date
    holding_start: dt.date
    proceeds: Decimal
    cost_basis: Decimal
    term: str
    order: tuple  # (sale_seq, date_acquired, lot_seq, piece): loss matching order
    adjustment: Decimal = Decimal(0)
    open_qty: Decimal = Decimal(0)
    open_loss: Decimal = Decimal(0)


class ReferenceBook:
    def __init__(self) -> None:
        self.lots: list[RefLot] = []  # open lots
        self.losses: list[RefRow] = []  # losses not fully matched yet
        self.washes: list[tuple] = []
        self.seq = 1
        self.known: set[str] = set()

    def buy(self, trade) -> None:
        lot = RefLot(trade.trade_id, None, self.seq, 0, trade.date, trade.date, trade.qty,
                     quantize_money(trade.qty * trade.price + trade.commission))  # fmt: skip
        lot.root = lot
        self.seq += 1
        self.lots.append(lot)
        self.known.add(trade.trade_id)
        for loss in sorted(self.losses, key=lambda r: r.order):
            if lot.absorbed:
                break
            if loss.open_qty > 0 and loss.date_sold >= trade.date - WINDOW:
                self._match(loss, lot, trade.date)

    def sell(self, trade, method: str) -> list[RefRow]:
        if trade.lot_ids or method == SPECIFIC_ID:
            ordered = []
            for name in trade.lot_ids:
                if name not in self.known:
                    raise LotError(name)
                ordered += sorted((x for x in self.lots if x.trade_id == name and x not in ordered),
                                  key=lambda x: (x.seq, x.sub))  # fmt: skip
        elif method == FIFO:
            ordered = sorted(self.lots, key=lambda x: (x.seq, x.sub))
        elif method == LIFO:
            ordered = sorted(self.lots, key=lambda x: (-x.seq, x.sub))
        elif method == HIFO:
            ordered = sorted(self.lots, key=lambda x: (-(x.basis / x.qty), x.seq, x.sub))
        picks, left = [], trade.qty
        for lot in ordered:
            if left > 0:
                picks.append((lot, min(lot.qty, left)))
                left -= picks[-1][1]
        if left > 0:
            raise LotError("short")
        net = trade.qty * trade.price - trade.commission
        sale_seq = self.seq
        self.seq += 1
        rows, given = [], Decimal(0)
        for piece, (lot, take) in enumerate(picks):
            proceeds = net - given if piece == len(picks) - 1 else quantize_money(net * take / trade.qty)
            given += proceeds
            cost = lot.basis if take == lot.qty else quantize_money(lot.basis * take / lot.qty)
            row = RefRow(trade.trade_id, lot.trade_id, take, lot.acquired, trade.date, lot.holding_start, proceeds,
                         cost, term_for(holding_start=lot.holding_start, date_sold=trade.date),
                         (sale_seq, lot.acquired, lot.seq, piece))  # fmt: skip
            if proceeds < cost:
                row.open_qty, row.open_loss = take, cost - proceeds
            lot.qty -= take
            lot.basis -= cost
            rows.append(row)
        self.lots = [x for x in self.lots if x.qty > 0]
        sold = {lot.root for lot, _ in picks}
        for loss in sorted((r for r in rows if r.open_qty > 0), key=lambda r: r.order):
            for lot in sorted(self.lots, key=lambda x: (x.acquired, x.seq, x.sub)):
                if (
                    loss.open_qty > 0
                    and not lot.absorbed
                    and lot.root not in sold
                    and lot.acquired >= trade.date - WINDOW
                ):
                    self._match(loss, lot, trade.date)
            if loss.open_qty > 0:
                self.losses.append(loss)
        return rows

    def _match(self, loss: RefRow, lot: RefLot, day: dt.date) -> None:
        k = min(loss.open_qty, lot.qty)
        disallowed = loss.open_loss if k == loss.open_qty else quantize_money(loss.open_loss * k / loss.open_qty)
        loss.open_qty -= k
        loss.open_loss -= disallowed
        loss.adjustment += disallowed
        if k < lot.qty:  # carve the replacement shares out of the lot
            sub = max(x.sub for x in self.lots if x.root is lot.root) + 1
            part = RefLot(lot.trade_id, lot.root, lot.seq, sub, lot.acquired, lot.holding_start, k,
                          quantize_money(lot.basis * k / lot.qty))  # fmt: skip
            lot.qty -= k
            lot.basis -= part.basis
            self.lots.append(part)
            lot = part
        before = lot.holding_start
        lot.basis += disallowed
        if lot.acquired > loss.date_sold:
            lot.holding_start = lot.acquired - (loss.date_sold - loss.holding_start)
        else:
            lot.holding_start = min(lot.holding_start, loss.holding_start)
        lot.absorbed = True
        self.losses = [r for r in self.losses if r.open_qty > 0]
        self.washes.append((loss.sale_trade_id, loss.lot_trade_id, lot.trade_id, lot.sub, k, disallowed, before,
                            lot.holding_start, day))  # fmt: skip

    def split(self, day: dt.date, ratio_from: Decimal, ratio_to: Decimal) -> None:
        for lot in self.lots:
            if lot.acquired < day:
                lot.qty = (lot.qty * ratio_to / ratio_from).quantize(QTY_QUANTUM)
        self.lots = [x for x in self.lots if x.qty > 0]
        for row in self.losses:
            if row.date_sold >= day - WINDOW and row.open_qty > 0:
                row.open_qty = (row.open_qty * ratio_to / ratio_from).quantize(QTY_QUANTUM)

    def open_lots(self) -> list[tuple]:
        return [(x.trade_id, x.seq, x.sub, x.qty, x.basis, x.holding_start, x.absorbed)
                for x in sorted(self.lots, key=lambda x: (x.seq, x.sub))]  # fmt: skip
