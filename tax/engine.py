"""The lot engine: pure, in-memory tax-lot accounting for one account and one symbol at a time.

No ORM and no clock. A :class:`SymbolBook` holds the open lots and the recent loss sales whose
loss is not yet fully matched with replacement shares; :meth:`SymbolBook.buy`,
:meth:`SymbolBook.sell` and :meth:`SymbolBook.split` apply one event each and record what changed
(new lots, relieved lots, realized rows, wash-sale matches, adjustments) so the persistence layer
(``tax.services``) can write it in bulk. The same engine serves the fill listener (a book loaded
from the database, one fill applied), the import (every trade of a file in memory, one bulk write)
and the wash-sale preview (a throw-away book loaded for it).

Rules (IRS Publication 550, Treas. Reg. 1.1091-1/-2; interpretations in
docs/CONCEPTS/tax-accounting.md):

- one lot per buy; basis = qty x price + commission; sells relieve lots by method: FIFO (earliest
  acquisition first), LIFO (latest first), HIFO (highest adjusted basis per share first, ties to the
  earliest acquisition) or specific identification (named buy trade ids, in the order given);
- long-term only when sold *after* the one-year anniversary of the holding-period start (a Feb 29
  start's anniversary is Feb 28);
- a sale at a loss is a wash sale to the extent substantially identical shares were acquired within
  30 days before or after (inclusive). Losses are matched in the order of the loss sales, the sold
  shares in the order of their acquisition, and replacement shares earliest-acquired first. Each
  replacement share absorbs at most one loss; shares sold in the same sale and the rest of the very
  lot being sold are never replacements; a replacement acquired before the sale must still be held
  after it. The disallowed loss is added to the replacement shares' basis and their holding period
  includes the sold shares' holding period (tacking; see ``_match``). A gain never triggers anything;
- a split multiplies every open lot's quantity by ``ratio_to / ratio_from`` (lots acquired before
  the ex-date), keeping total basis and holding period.

Money is Decimal. Amounts are kept to 6 places; every allocation of a total over parts (basis over
sold shares, proceeds over lots, a loss over replacement shares) gives the last part the remainder,
so totals are exact.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import heapq
import itertools
import os
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from trading_site.lib.money import QTY_QUANTUM
from trading_site.lib.money import quantize_money as _money  # half-even to 6 places

ZERO = Decimal(0)
WASH_WINDOW_DAYS = 30
BUY, SELL = "buy", "sell"
FIFO, LIFO, HIFO, SPECIFIC_ID = "fifo", "lifo", "hifo", "specific_id"
METHODS = (FIFO, LIFO, HIFO, SPECIFIC_ID)
SHORT, LONG = "short", "long"


def _reseed_ids() -> None:
    global _id_base, _id_counter
    _id_base = random.SystemRandom().getrandbits(80) << 48
    _id_counter = itertools.count()


_reseed_ids()
os.register_at_fork(after_in_child=_reseed_ids)  # forked workers must not share the sequence


def new_id() -> int:
    """A unique 128-bit id (stored as a UUID): 80 random bits per process + a 48-bit counter.

    Plain ints are much cheaper than ``uuid.uuid4()`` objects for the hundreds of thousands of
    rows an import creates; the persistence layer writes them as UUIDs."""
    return _id_base | next(_id_counter)


class LotError(ValueError):
    """A trade the ledger cannot apply (short sale, unknown lot id...). Nothing is changed."""


@functools.lru_cache(maxsize=65536)
def anniversary(day: dt.date) -> dt.date:
    """The same calendar day one year later; Feb 29 → Feb 28 (Pub. 550, holding period)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # Feb 29 in a leap year
        return day.replace(year=day.year + 1, day=28)


def term_for(*, holding_start: dt.date, date_sold: dt.date) -> str:
    """Long-term only when sold *after* the one-year anniversary (Pub. 550: "more than 1 year")."""
    return LONG if date_sold > anniversary(holding_start) else SHORT


@dataclass(slots=True)
class Trade:
    trade_id: str
    date: dt.date
    side: str
    symbol: str
    qty: Decimal
    price: Decimal
    commission: Decimal = ZERO
    lot_ids: tuple[str, ...] = ()
    execution_id: str = ""


@dataclass(slots=True, eq=False)
class Lot:
    id: int
    symbol: str
    trade_id: str
    execution_id: str
    root_id: int  # the purchase lot this one descends from (itself for a purchase)
    parent_id: int | None  # the lot it was split off from by a wash-sale match
    seq: int  # acquisition order within the book
    sub: int  # order among lots split off the same purchase
    acquired: dt.date  # date of the purchase (Form 8949 column b)
    holding_start: dt.date  # start of the holding period, after tacking
    price: Decimal  # purchase price per share as traded
    qty: Decimal  # open quantity
    basis: Decimal  # adjusted basis of the open quantity
    qty_original: Decimal
    basis_original: Decimal
    wash_absorbed: bool = False  # these shares already absorbed one disallowed loss
    new: bool = True
    dirty: bool = False
    version: int = 0  # bumped when the lot re-enters the HIFO order (SymbolBook's index)

    @property
    def basis_per_share(self) -> Decimal:
        return self.basis / self.qty


@dataclass(slots=True, eq=False)
class Realized:
    """One (sale, lot) pair: a row of Form 8949."""

    id: int
    symbol: str
    sale_trade_id: str
    sale_execution_id: str
    lot_id: int
    lot_trade_id: str
    root_id: int
    qty: Decimal
    date_acquired: dt.date
    date_sold: dt.date
    holding_start: dt.date
    proceeds: Decimal
    cost_basis: Decimal
    term: str
    sale_seq: int
    lot_seq: int
    piece: int = 0  # position of this lot in the sale's relief order (a tiebreak for matching)
    adjustment: Decimal = ZERO  # disallowed loss (positive), Form 8949 column g with code W
    wash_open_qty: Decimal = ZERO  # loss shares not yet matched with a replacement
    wash_open_loss: Decimal = ZERO  # part of the loss not yet disallowed (positive)
    new: bool = True
    dirty: bool = False

    @property
    def gain_loss(self) -> Decimal:
        return self.proceeds - self.cost_basis + self.adjustment


@dataclass(slots=True, eq=False)
class Wash:
    id: int
    symbol: str
    realized_id: int
    sale_trade_id: str
    lot_trade_id: str
    date_sold: dt.date
    replacement_lot_id: int
    replacement_trade_id: str
    replacement_acquired: dt.date
    qty: Decimal
    disallowed_loss: Decimal
    holding_start_before: dt.date
    holding_start_after: dt.date
    detected_on: dt.date  # date of the event that found the match (the sale or the later buy)


@dataclass(slots=True, eq=False)
class Adjustment:
    """Append-only history of what happened to a lot besides its purchase and its sales."""

    lot_id: int
    kind: str  # "wash_basis" | "wash_split_off" | "split"
    day: dt.date
    qty_before: Decimal
    qty_after: Decimal
    basis_before: Decimal
    basis_after: Decimal
    holding_start_before: dt.date
    holding_start_after: dt.date
    reference: str = ""


@dataclass(slots=True)
class Changes:
    """What one or more events produced, for the persistence layer."""

    lots: list[Lot] = field(default_factory=list)  # new or modified (flags tell which)
    realized: list[Realized] = field(default_factory=list)  # new or modified
    washes: list[Wash] = field(default_factory=list)
    adjustments: list[Adjustment] = field(default_factory=list)


def _allocate(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split ``total`` in proportion to ``weights``; the last share takes the remainder."""
    whole = sum(weights, ZERO)
    parts, given = [], ZERO
    for i, w in enumerate(weights):
        part = total - given if i == len(weights) - 1 else _money(total * w / whole)
        parts.append(part)
        given += part
    return parts


class SymbolBook:
    """Open lots and unmatched recent losses of one symbol in one account.

    Events must come in date order (the import sorts them; fills arrive in it). Every look-up is
    indexed, so an event costs the same whatever the length of the history or the number of open
    lots (``docs/ADRs/0024-in-memory-lot-engine.md``):

    - relief order: one heap per lot method, built on first use and kept up to date, with stale
      entries (lots closed, or re-keyed when their basis per share moved) skipped when popped;
    - replacement candidates of a loss sale (open lots not yet holding a disallowed loss, by
      acquisition): one list in acquisition order, searched by date (``bisect``), with a
      "next live entry" pointer per entry (union-find with path compression) over the lots that
      absorbed a loss or closed since;
    - unmatched losses a purchase may replace: a queue in sale order; losses are matched from its
      front and leave it once matched or 30 days old;
    - lots per acquisition trade id (specific identification) and the open lots of each purchase
      (numbering of split-off lots): dictionaries.
    """

    def __init__(
        self,
        *,
        symbol: str,
        lots: list[Lot] | None = None,
        pending: list[Realized] | None = None,
        next_seq: int = 1,
        known_trade_ids: set[str] | None = None,
    ) -> None:
        self.symbol = symbol
        self.next_seq = next_seq
        ordered = sorted(lots or [], key=_fifo_key)
        self.known_trade_ids = known_trade_ids if known_trade_ids is not None else {lot.trade_id for lot in ordered}
        self.pending: deque[Realized] = deque(
            sorted(pending or [], key=lambda r: (r.sale_seq, r.date_acquired, r.lot_seq, r.piece))
        )
        self.changes = Changes()
        self._touched_lots: set[int] = set()
        self._touched_realized: set[int] = set()
        self._open: dict[int, Lot] = {}  # open lots by id
        self._by_trade: dict[str, dict[int, Lot]] | None = None  # open lots by trade id, built on first use
        self._by_root: dict[int, list] = {}  # open parts split off a purchase: max-heap of sub
        self._heaps: dict[str, list] = {}  # relief order per method (FIFO, LIFO, HIFO)
        self._tick = itertools.count()  # heap tiebreak: entries never compare lots
        self._cand: list[Lot] = []  # replacement candidates, (acquired, seq, sub) order
        self._cand_dates: list[dt.date] = []
        self._cand_next: list[int] = [0]  # union-find over dead entries; one sentinel at the end
        self._cand_limit = 4096
        for lot in ordered:
            self._index(lot)
        self._candidates_rebuild()

    # -- indexes -----------------------------------------------------------------------------------
    def _index(self, lot: Lot) -> None:
        """Register an open lot (new purchase, split-off part, or loaded) in every index."""
        self._open[lot.id] = lot
        if self._by_trade is not None:
            self._by_trade.setdefault(lot.trade_id, {})[lot.id] = lot
        if lot.sub > 0:
            heapq.heappush(self._by_root.setdefault(lot.root_id, []), (-lot.sub, next(self._tick), lot))
        for method, heap in self._heaps.items():
            heapq.heappush(heap, self._entry(method, lot))

    def _closed(self, lot: Lot) -> None:
        """Forget a lot that was relieved to zero (heap entries are skipped when they surface)."""
        del self._open[lot.id]
        if self._by_trade is not None:
            same = self._by_trade[lot.trade_id]
            del same[lot.id]
            if not same:
                del self._by_trade[lot.trade_id]
        if lot.id == lot.root_id:
            self._by_root.pop(lot.id, None)  # no part is split off a closed purchase

    def _entry(self, method: str, lot: Lot) -> tuple:
        if method == FIFO:
            return (lot.seq, lot.sub, next(self._tick), lot)
        if method == LIFO:
            return (-lot.seq, lot.sub, next(self._tick), lot)
        lot.version += 1  # HIFO keys move with the basis; older entries of this lot are stale
        # the tick breaks ties (a split-off lot can share seq, sub and version with another): never compare lots
        return (-(lot.basis / lot.qty), lot.seq, lot.sub, lot.version, next(self._tick), lot)

    def _rekeyed(self, lot: Lot) -> None:
        """The lot's basis per share changed: re-enter it in the HIFO order."""
        heap = self._heaps.get(HIFO)
        if heap is not None and lot.qty > 0:
            heapq.heappush(heap, self._entry(HIFO, lot))

    @staticmethod
    def _live(method: str, entry: tuple) -> bool:
        lot = entry[-1]
        return lot.qty > 0 and (method != HIFO or entry[3] == lot.version)

    def _heap(self, method: str) -> list:
        heap = self._heaps.get(method)
        if heap is None or len(heap) > 2 * len(self._open) + 1024:  # built on first use; compacted
            heap = [self._entry(method, lot) for lot in self._open.values()]
            heapq.heapify(heap)
            self._heaps[method] = heap
        return heap

    def _candidates_rebuild(self) -> None:
        live = sorted(
            (lot for lot in self._open.values() if not lot.wash_absorbed),
            key=lambda lot: (lot.acquired, lot.seq, lot.sub),
        )
        self._cand = live
        self._cand_dates = [lot.acquired for lot in live]
        self._cand_next = list(range(len(live) + 1))
        self._cand_limit = max(4096, 2 * len(live))

    def _candidate_add(self, lot: Lot) -> None:
        """Add a new purchase (already in ``_open``) to the replacement candidates."""
        if (self._cand and self._cand_dates[-1] > lot.acquired) or len(self._cand) >= self._cand_limit:
            # A purchase dated before the last one (an out-of-order fill), or time to drop the
            # entries of lots closed or holding a loss: rebuilt from the open lots, this one included.
            self._candidates_rebuild()
            return
        self._cand.append(lot)
        self._cand_dates.append(lot.acquired)
        self._cand_next.append(len(self._cand))

    def _candidate_from(self, index: int) -> int:
        """The first candidate at or after ``index`` still open and not holding a loss."""
        nxt, cand = self._cand_next, self._cand
        end = len(cand)
        j = index
        while j < end:
            k = nxt[j]
            if k != j:
                j = k
                continue
            lot = cand[j]
            if lot.qty > 0 and not lot.wash_absorbed:
                break
            nxt[j] = j + 1  # dead for good: lots never reopen nor give a loss back
            j += 1
        while index < j:  # path compression
            k = nxt[index]
            nxt[index] = j
            index = k
        return j

    # -- bookkeeping -------------------------------------------------------------------------------
    def _touch_lot(self, lot: Lot) -> None:
        if not lot.new:
            lot.dirty = True
        if lot.id not in self._touched_lots:  # engine ids hash well (object addresses do not)
            self._touched_lots.add(lot.id)
            self.changes.lots.append(lot)

    def _touch_realized(self, row: Realized) -> None:
        if not row.new:
            row.dirty = True
        if row.id not in self._touched_realized:
            self._touched_realized.add(row.id)
            self.changes.realized.append(row)

    def take_changes(self) -> Changes:
        changes, self.changes = self.changes, Changes()
        self._touched_lots.clear()
        self._touched_realized.clear()
        return changes

    @property
    def lots(self) -> list[Lot]:
        """The open lots in (seq, sub) order — acquisition order, split-off parts after their purchase."""
        return sorted(self._open.values(), key=_fifo_key)

    @property
    def open_qty(self) -> Decimal:
        return sum((lot.qty for lot in self._open.values()), ZERO)

    # -- events ------------------------------------------------------------------------------------
    def buy(self, trade: Trade) -> Lot:
        basis = _money(trade.qty * trade.price + trade.commission)
        lot_id = new_id()
        lot = Lot(
            id=lot_id,
            symbol=self.symbol,
            trade_id=trade.trade_id,
            execution_id=trade.execution_id,
            root_id=lot_id,
            parent_id=None,
            seq=self.next_seq,
            sub=0,
            acquired=trade.date,
            holding_start=trade.date,
            price=trade.price,
            qty=trade.qty,
            basis=basis,
            qty_original=trade.qty,
            basis_original=basis,
        )
        self.next_seq += 1
        self._index(lot)
        self._candidate_add(lot)
        self.known_trade_ids.add(trade.trade_id)
        self._touch_lot(lot)
        # A purchase replaces earlier unmatched losses sold within the last 30 days, in sale order.
        horizon = trade.date - dt.timedelta(days=WASH_WINDOW_DAYS)
        pending = self.pending
        while pending and (pending[0].wash_open_qty <= 0 or pending[0].date_sold < horizon):
            pending.popleft()
        for loss in pending:
            if lot.qty <= 0 or lot.wash_absorbed:
                break
            if loss.wash_open_qty <= 0 or loss.date_sold < horizon:
                continue
            if self._match(loss=loss, lot=lot, day=trade.date) is lot:
                break  # the whole new lot absorbed a loss; it cannot absorb another
        while pending and pending[0].wash_open_qty <= 0:
            pending.popleft()
        return lot

    def _select(self, trade: Trade, method: str) -> tuple[list[tuple[Lot, Decimal]], list[tuple], str]:
        """The lots a sell relieves and how much of each; raises before anything changes.

        Also returns the heap entries taken out of the method's order (to put back the lots still
        open after the sale) and the method used."""
        if trade.lot_ids or method == SPECIFIC_ID:
            return self._select_named(trade), [], SPECIFIC_ID
        if method not in (FIFO, LIFO, HIFO):
            raise LotError(f"unknown lot method {method!r}")
        heap = self._heap(method)
        remaining = trade.qty
        picks: list[tuple[Lot, Decimal]] = []
        taken: list[tuple] = []
        while remaining > 0 and heap:
            entry = heapq.heappop(heap)
            if not self._live(method, entry):
                continue
            lot = entry[-1]
            take = min(lot.qty, remaining)
            picks.append((lot, take))
            taken.append(entry)
            remaining -= take
        if remaining > 0:
            for entry in taken:
                heapq.heappush(heap, entry)
            raise LotError(
                f"sell of {trade.qty} {self.symbol} exceeds the open position of {trade.qty - remaining} "
                "(short sales are not supported)"
            )
        return picks, taken, method

    def _select_named(self, trade: Trade) -> list[tuple[Lot, Decimal]]:
        if not trade.lot_ids:
            raise LotError("specific identification needs lot_ids for this sell")
        if self._by_trade is None:
            self._by_trade = {}
            for lot in self._open.values():
                self._by_trade.setdefault(lot.trade_id, {})[lot.id] = lot
        ordered: list[Lot] = []
        seen: set[int] = set()
        for name in trade.lot_ids:
            if name not in self.known_trade_ids:
                raise LotError(f"unknown lot id {name!r} for {self.symbol}")
            for lot in sorted(self._by_trade.get(name, {}).values(), key=_fifo_key):
                if lot.id not in seen:
                    seen.add(lot.id)
                    ordered.append(lot)
        remaining = trade.qty
        picks: list[tuple[Lot, Decimal]] = []
        for lot in ordered:
            if remaining <= 0:
                break
            take = min(lot.qty, remaining)
            picks.append((lot, take))
            remaining -= take
        if remaining > 0:
            raise LotError(
                f"lots {';'.join(trade.lot_ids)} hold {trade.qty - remaining} open {self.symbol} shares, "
                f"the sell is {trade.qty}"
            )
        return picks

    def sell(self, trade: Trade, *, method: str = FIFO) -> list[Realized]:
        picks, taken, used = self._select(trade, method)  # raises before anything changes
        net = trade.qty * trade.price - trade.commission
        proceeds = _allocate(net, [take for _, take in picks])
        sale_seq = self.next_seq
        self.next_seq += 1
        rows: list[Realized] = []
        for piece, ((lot, take), lot_proceeds) in enumerate(zip(picks, proceeds, strict=True)):
            cost = lot.basis if take == lot.qty else _money(lot.basis * take / lot.qty)
            lot.qty -= take
            lot.basis -= cost
            self._touch_lot(lot)
            if lot.qty == 0:
                self._closed(lot)
            elif used != HIFO:
                self._rekeyed(lot)  # rounding moved its basis per share
            row = Realized(
                id=new_id(),
                symbol=self.symbol,
                sale_trade_id=trade.trade_id,
                sale_execution_id=trade.execution_id,
                lot_id=lot.id,
                lot_trade_id=lot.trade_id,
                root_id=lot.root_id,
                qty=take,
                date_acquired=lot.acquired,
                date_sold=trade.date,
                holding_start=lot.holding_start,
                proceeds=lot_proceeds,
                cost_basis=cost,
                term=term_for(holding_start=lot.holding_start, date_sold=trade.date),
                sale_seq=sale_seq,
                lot_seq=lot.seq,
                piece=piece,
            )
            if row.proceeds < row.cost_basis:  # a gain (or zero) never triggers a wash sale
                row.wash_open_qty = take
                row.wash_open_loss = row.cost_basis - row.proceeds
            rows.append(row)
            self._touch_realized(row)
        if taken:  # put the lots still open back in the order they were taken from
            heap = self._heaps[used]
            for entry in taken:
                lot = entry[-1]
                if lot.qty > 0:
                    heapq.heappush(heap, self._entry(used, lot) if used == HIFO else entry)
        losses = sorted((r for r in rows if r.wash_open_qty > 0), key=lambda r: (r.date_acquired, r.lot_seq, r.piece))
        if losses:
            sold_roots = {lot.root_id for lot, _ in picks}
            # Replacements acquired before (or on the day of) the sale and still held after it,
            # earliest acquisition first.
            index = bisect.bisect_left(self._cand_dates, trade.date - dt.timedelta(days=WASH_WINDOW_DAYS))
            for loss in losses:
                while loss.wash_open_qty > 0:
                    index = self._candidate_from(index)
                    if index == len(self._cand):
                        break
                    lot = self._cand[index]
                    if lot.root_id in sold_roots:  # the rest of a lot being sold never replaces it
                        index += 1
                        continue
                    self._match(loss=loss, lot=lot, day=trade.date)
                if index == len(self._cand):
                    break
            self.pending.extend(r for r in losses if r.wash_open_qty > 0)
        return rows

    def _match(self, *, loss: Realized, lot: Lot, day: dt.date) -> Lot:
        """Make up to ``loss.wash_open_qty`` shares of ``lot`` replacements for ``loss``."""
        k = min(loss.wash_open_qty, lot.qty)
        if k == loss.wash_open_qty:
            disallowed = loss.wash_open_loss
        else:
            disallowed = _money(loss.wash_open_loss * k / loss.wash_open_qty)
        loss.wash_open_qty -= k
        loss.wash_open_loss -= disallowed
        loss.adjustment += disallowed
        self._touch_realized(loss)
        replacement = self._split_off(lot=lot, qty=k, day=day) if k < lot.qty else lot
        before_basis, before_start = replacement.basis, replacement.holding_start
        replacement.basis += disallowed
        # Tacking (IRC 1223(3), Pub. 550): the replacement's holding period includes the sold
        # shares'. Bought after the sale: the days the sold shares were held are added before the
        # purchase date. Bought on or before the sale date: the two periods overlap, so the
        # holding period is their union and starts with the earlier of the two.
        if replacement.acquired > loss.date_sold:
            replacement.holding_start = replacement.acquired - (loss.date_sold - loss.holding_start)
        else:
            replacement.holding_start = min(replacement.holding_start, loss.holding_start)
        replacement.wash_absorbed = True
        if replacement.id == replacement.root_id:
            self._by_root.pop(replacement.id, None)  # no part is split off a lot holding a loss
        self._rekeyed(replacement)
        self._touch_lot(replacement)
        self.changes.adjustments.append(
            Adjustment(
                lot_id=replacement.id,
                kind="wash_basis",
                day=day,
                qty_before=replacement.qty,
                qty_after=replacement.qty,
                basis_before=before_basis,
                basis_after=replacement.basis,
                holding_start_before=before_start,
                holding_start_after=replacement.holding_start,
                reference=loss.sale_trade_id,
            )
        )
        self.changes.washes.append(
            Wash(
                id=new_id(),
                symbol=self.symbol,
                realized_id=loss.id,
                sale_trade_id=loss.sale_trade_id,
                lot_trade_id=loss.lot_trade_id,
                date_sold=loss.date_sold,
                replacement_lot_id=replacement.id,
                replacement_trade_id=replacement.trade_id,
                replacement_acquired=replacement.acquired,
                qty=k,
                disallowed_loss=disallowed,
                holding_start_before=before_start,
                holding_start_after=replacement.holding_start,
                detected_on=day,
            )
        )
        return replacement

    def _next_sub(self, lot: Lot) -> int:
        """One more than the highest ``sub`` among the purchase's open lots (``lot`` among them): the
        same number whether the book lived in memory or was reloaded (closed lots are not loaded)."""
        heap = self._by_root.get(lot.root_id)
        while heap and heap[0][-1].qty <= 0:
            heapq.heappop(heap)
        return max(-heap[0][0] if heap else 0, lot.sub) + 1

    def _split_off(self, *, lot: Lot, qty: Decimal, day: dt.date) -> Lot:
        """Carve ``qty`` shares out of ``lot`` into a child lot (same purchase, own basis)."""
        basis = _money(lot.basis * qty / lot.qty)
        child_id = new_id()
        child = Lot(
            id=child_id,
            symbol=lot.symbol,
            trade_id=lot.trade_id,
            execution_id=lot.execution_id,
            root_id=lot.root_id,
            parent_id=lot.id,
            seq=lot.seq,
            sub=self._next_sub(lot),
            acquired=lot.acquired,
            holding_start=lot.holding_start,
            price=lot.price,
            qty=qty,
            basis=basis,
            qty_original=qty,
            basis_original=basis,
        )
        self.changes.adjustments.append(
            Adjustment(
                lot_id=lot.id,
                kind="wash_split_off",
                day=day,
                qty_before=lot.qty,
                qty_after=lot.qty - qty,
                basis_before=lot.basis,
                basis_after=lot.basis - basis,
                holding_start_before=lot.holding_start,
                holding_start_after=lot.holding_start,
                reference=str(child_id),
            )
        )
        lot.qty -= qty
        lot.basis -= basis
        self._rekeyed(lot)
        self._touch_lot(lot)
        self._index(child)  # (seq, sub) places it after the purchase's other open lots
        self._touch_lot(child)
        return child

    def split(self, *, day: dt.date, ratio_from: Decimal, ratio_to: Decimal, reference: str = "") -> list[Lot]:
        """A ``ratio_to``-for-``ratio_from`` split effective ``day`` (the ex-date)."""
        if ratio_from <= 0 or ratio_to <= 0:
            raise LotError("split ratios must be greater than zero")
        factor = ratio_to / ratio_from
        changed = []
        for lot in self.lots:
            if lot.acquired >= day:
                continue
            before = lot.qty
            lot.qty = (lot.qty * factor).quantize(QTY_QUANTUM)
            self._touch_lot(lot)
            if lot.qty == 0:  # a reverse split rounding a fraction of a share away
                self._closed(lot)
            changed.append(lot)
            self.changes.adjustments.append(
                Adjustment(
                    lot_id=lot.id,
                    kind="split",
                    day=day,
                    qty_before=before,
                    qty_after=lot.qty,
                    basis_before=lot.basis,
                    basis_after=lot.basis,
                    holding_start_before=lot.holding_start,
                    holding_start_after=lot.holding_start,
                    reference=reference or f"{ratio_to}-for-{ratio_from}",
                )
            )
        self._heaps.pop(HIFO, None)  # every basis per share moved: rebuilt on next use
        # Unmatched loss shares a purchase on or after the ex-date could still replace are counted
        # in post-split shares too.
        horizon = day - dt.timedelta(days=WASH_WINDOW_DAYS)
        for row in self.pending:
            if row.date_sold >= horizon and row.wash_open_qty > 0:
                row.wash_open_qty = (row.wash_open_qty * factor).quantize(QTY_QUANTUM)
                self._touch_realized(row)
        return changed


def _fifo_key(lot: Lot) -> tuple[int, int]:
    return (lot.seq, lot.sub)


# -- applying a history in memory (import, replay) -------------------------------------------------
@dataclass(frozen=True, slots=True)
class Split:
    """A ``ratio_to``-for-``ratio_from`` stock split of ``symbol`` effective ``date`` (the ex-date)."""

    symbol: str
    date: dt.date
    ratio_from: Decimal
    ratio_to: Decimal
    reference: str = ""


def events_ordered(trades: Iterable[Trade], splits: Iterable[Split] = ()) -> list[Trade | Split]:
    """The order a history is applied in: by date; on one date splits first (they take effect at
    the open), then trades in the order given. The sort is stable."""
    events: list[Trade | Split] = [*splits, *trades]
    events.sort(key=lambda e: (e.date, not isinstance(e, Split)))
    return events


class Ledger:
    """The books of one account, in memory: the entry point for applying trades and splits.

    ``tax.services`` imports with it (then writes :meth:`take_changes` in bulk) and replays call
    it the same way with an empty ledger; the fill listener applies one fill to one
    :class:`SymbolBook` loaded from the database — the same rules, in the same class.

    >>> ledger = Ledger(method=FIFO)
    >>> for event in events_ordered(trades, splits):
    ...     ledger.apply(event)
    >>> changes = ledger.take_changes()  # new and modified lots, realized rows, wash sales, adjustments
    """

    def __init__(self, *, method: str = FIFO, books: dict[str, SymbolBook] | None = None) -> None:
        if method not in METHODS:
            raise LotError(f"unknown lot method {method!r}")
        self.method = method
        self.books: dict[str, SymbolBook] = books if books is not None else {}

    def book(self, symbol: str) -> SymbolBook:
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = SymbolBook(symbol=symbol)
        return book

    def apply(self, event: Trade | Split) -> Lot | list[Realized] | list[Lot]:
        """Apply one event; a :class:`LotError` leaves every book as it was (splits aside)."""
        book = self.book(event.symbol)
        if isinstance(event, Split):
            return book.split(
                day=event.date, ratio_from=event.ratio_from, ratio_to=event.ratio_to, reference=event.reference
            )
        if event.side == BUY:
            return book.buy(event)
        if event.side == SELL:
            return book.sell(event, method=self.method)
        raise LotError(f"side {event.side!r} must be buy or sell")

    def take_changes(self) -> Changes:
        """What every book changed since the last call (and forget it)."""
        merged = Changes()
        for book in self.books.values():
            changes = book.take_changes()
            merged.lots.extend(changes.lots)
            merged.realized.extend(changes.realized)
            merged.washes.extend(changes.washes)
            merged.adjustments.extend(changes.adjustments)
        return merged

    def open_lots(self) -> list[Lot]:
        """Every open lot, by symbol then acquisition order."""
        return [lot for symbol in sorted(self.books) for lot in self.books[symbol].lots]
