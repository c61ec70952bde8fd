"""Two ways to persist an order's life: now (live) or in bulk at the end (replay) — ADR 0030.

The rules of an order's life — validation, the pre-trade checks, the simulated exchange's fill, fill
booking, positions, order states and their events — are written once, in the gateway, the fills
module and the simulated exchange. They change model instances; what differs between live trading
and a replay is only *when* those instances reach the database:

- live (no book open): every step is written as it happens, under the row locks the concurrency
  rules need (ADR 0005);
- replay (:func:`book_open`, one thread, its own database — ADR 0019): the instances stay in memory in
  a :class:`Book` — the order rows by client order id, the positions by symbol, the simulated
  exchange's orders and outbox — and :meth:`Book.flush` writes everything at once with ``bulk_create``
  (a few statements for a whole run instead of ~26 per order).

Each place that writes or reads the ledger asks :func:`book_active` once; with no book it does what it
always did. A book is bound to the context (``contextvars``): other threads — live trading next to a
replay — never see it.

The reads answered from a book (everything else reads the database, as of the last flush):
``orders.gateway`` — an order by client order id (idempotency) or by id (cancel, finish);
``orders.fills`` — the order a trade update is for, whether an execution is booked, the position;
``orders.brokers.simulated`` — the exchange's orders, working orders and undelivered updates;
``orders.selectors`` — positions (the risk checks' exposure), the latest account snapshot, fills in
a window (with the database's); ``orders.slicing.parents_finalize`` — whether a parent is open;
``workflow.daily`` — the run's ids, steps and open day orders; ``workflow.replay`` — the day's orders.
TWAP parents are never kept in a book (the slicer claims database rows): ADR 0030.
"""

from __future__ import annotations

import bisect
import contextlib
import contextvars
import operator
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction

from orders.models import Order, OrderStatus, Position
from trading_site.lib.sql import sqlite_rows_insert

_active: contextvars.ContextVar[Book | None] = contextvars.ContextVar("orders_book", default=None)


@dataclass
class Book:
    """The ledger of one replay while it runs: rows to insert, and the indexes the rules read."""

    rows: dict[type[models.Model], list[models.Model]] = field(default_factory=dict)  # insertion order
    next_pk: dict[type[models.Model], int] = field(default_factory=dict)
    orders: dict[str, models.Model] = field(default_factory=dict)  # client_order_id -> Order
    orders_by_pk: dict[int, models.Model] = field(default_factory=dict)
    working: dict[int, models.Model] = field(default_factory=dict)  # orders not known final (pruned as read)
    positions: dict[str, models.Model] = field(default_factory=dict)  # symbol -> Position (loaded at open)
    execution_ids: set[str] = field(default_factory=set)
    sim_orders: dict[str, models.Model] = field(default_factory=dict)  # client_order_id -> SimOrder
    sim_open: dict[str, models.Model] = field(default_factory=dict)  # the exchange's working orders
    outbox: list[models.Model] = field(default_factory=list)  # SimTradeUpdate not yet delivered
    fills_at: list = field(default_factory=list)  # (executed_at, seq, Fill), sorted: fills_between
    parents_open: bool = False  # a TWAP parent left scheduled in the database when the book opened
    # The latest account snapshot, read once (orders.selectors.account_latest; a new snapshot resets it).
    account: object = None
    account_read: bool = False

    def add(self, obj: models.Model) -> models.Model:
        """Keep ``obj`` for the flush, with the primary key the database would give it."""
        model = type(obj)
        if obj.pk is None:
            if model not in self.next_pk:
                top = model.objects.aggregate(top=models.Max("pk"))["top"] or 0
                self.next_pk[model] = top + 1
            obj.pk = self.next_pk[model]
            self.next_pk[model] += 1
        self.rows.setdefault(model, []).append(obj)
        return obj

    def of(self, model: type[models.Model]) -> list[models.Model]:
        return self.rows.get(model, [])

    def orders_working(self) -> list[models.Model]:
        """The kept orders that are not final, oldest first (the final ones are dropped from the index)."""
        for pk in [pk for pk, order in self.working.items() if order.is_terminal]:
            del self.working[pk]
        return sorted(self.working.values(), key=lambda order: order.pk)

    def fill_add(self, fill) -> None:
        self.add(fill)
        self.execution_ids.add(fill.execution_id)
        bisect.insort(self.fills_at, (fill.executed_at, fill.pk, fill))

    def fills_between(self, start, end) -> list:
        lo = bisect.bisect_left(self.fills_at, (start,))
        hi = bisect.bisect_left(self.fills_at, (end,))
        return [f for _, _, f in self.fills_at[lo:hi]]

    def flush(self) -> int:
        """Write every kept row (and the positions) in one transaction; the book is empty after."""
        written = 0
        with transaction.atomic():
            for model, objs in self.rows.items():
                _insert(model, objs)
                written += len(objs)
            if self.positions:
                Position.objects.bulk_create(
                    list(self.positions.values()),
                    update_conflicts=True,
                    unique_fields=["symbol"],
                    update_fields=["qty", "avg_cost", "realized_pnl", "updated_at"],
                )
        # What was kept is in the database now: every index starts over, the positions stay as written.
        vars(self).update(vars(Book(positions=self.positions)))
        return written


def _insert(model: type[models.Model], objs: list[models.Model]) -> None:
    """Insert kept rows (their primary keys set): on SQLite — a replay's store — one ``executemany``
    (:func:`trading_site.lib.sql.sqlite_rows_insert`), elsewhere ``bulk_create``."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "sqlite":
        model.objects.bulk_create(objs, batch_size=500)
        return
    for obj in objs:  # as bulk_create: a related row kept unsaved gives its id to the foreign key
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
    names = [f.attname for f in model._meta.concrete_fields]
    values = operator.attrgetter(*names)  # a tuple of every column's value, in one call
    sqlite_rows_insert(model, names, (values(obj) for obj in objs))
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias


def atomic():
    """``transaction.atomic()`` live; nothing in a replay's book (no row is written until the flush,
    which is one transaction)."""
    return contextlib.nullcontext() if _active.get() is not None else transaction.atomic()


def book_active() -> Book | None:
    """The book of this context's replay, or None (live: write as it happens)."""
    return _active.get()


def persist(obj: models.Model) -> models.Model:
    """Insert ``obj`` now (live) or keep it for the book's flush (replay)."""
    book = _active.get()
    if book is None:
        obj.save(force_insert=True)
        return obj
    return book.add(obj)


def persist_all(objs: list[models.Model]) -> None:
    """``bulk_create`` now (live) or keep them for the book's flush (replay)."""
    if not objs:
        return
    book = _active.get()
    if book is None:
        type(objs[0]).objects.bulk_create(objs)
        return
    for obj in objs:
        book.add(obj)


def saved(obj: models.Model, *, fields) -> None:
    """``obj.save(update_fields=fields)`` live; nothing in a replay (the kept instance is the row)."""
    if _active.get() is None:
        obj.save(update_fields=sorted(fields))


@contextlib.contextmanager
def book_open(book: Book | None = None) -> Iterator[Book]:
    """Keep the ledger of this context in memory until :meth:`Book.flush` (replay only)."""
    # The positions are the one table a book updates rather than inserts: read them once here.
    book = book or Book()
    book.positions = {p.symbol: p for p in Position.objects.all()}
    book.parents_open = Order.objects.filter(
        status=OrderStatus.SCHEDULED, parent_order__isnull=True, total_slices__isnull=False
    ).exists()
    token = _active.set(book)
    try:
        yield book
    finally:
        _active.reset(token)
