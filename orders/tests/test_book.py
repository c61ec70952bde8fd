"""The replay book's bulk writes (orders.book, ADR 0030): a row written by ``sqlite_rows_insert`` is the
row ``bulk_create`` writes — every column, as SQLite stores it — for the value kinds the ledger holds
(aware datetimes, Decimals, JSON, nullable foreign keys, booleans, text)."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from decimal import Decimal as D

import pytest

from orders.models import Order, OrderEvent
from trading_site.lib.sql import sqlite_rows_insert
from workflow.replay_store import replay_store

NOW = dt.datetime(2024, 3, 8, 20, 45, 0, 123456, tzinfo=dt.UTC)


def _order(pk: int, cid: str) -> Order:
    return Order(pk=pk, client_order_id=cid, symbol="AAPL", side="buy", qty=D("12.500000001"), status="filled",
                 filled_qty=D("12.500000001"), filled_notional=D("2187.51"), avg_fill_price=D("175.0008"),
                 commission=D("0"), reference_price=D("174.99"), source="rebalance", strategy="rebalance",
                 extended_hours=False, created_at=NOW, updated_at=NOW + dt.timedelta(seconds=1),
                 filled_at=NOW.astimezone(dt.timezone(dt.timedelta(hours=-5))))


def _event(pk: int, order: Order) -> OrderEvent:
    return OrderEvent(pk=pk, order=order, created_at=NOW, kind="fill", from_status="accepted", to_status="filled",
                      data={"execution_id": "e-1", "qty": "12.5", "nested": [1, None, True]})


def _rows(path, table: str, pks: tuple[int, int]) -> list[tuple]:
    """The rows as SQLite stores them: text, numbers and their storage classes, read with the sqlite3
    module itself (Django's connection would parse timestamps back, hiding a difference in the text)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        cursor = db.execute(f"SELECT * FROM {table} WHERE id IN (?, ?) ORDER BY id", pks)
        names = [c[0] for c in cursor.description]
        rows = cursor.fetchall()
        types = [db.execute(f"SELECT {', '.join(f'typeof({n})' for n in names)} FROM {table} WHERE id = ?",
                            (pk,)).fetchone() for pk in pks]
    skip = ("id", "client_order_id", "order_id")
    return [tuple((v, t) for n, v, t in zip(names, row, kinds, strict=True) if n not in skip)
            for row, kinds in zip(rows, types, strict=True)]


@pytest.mark.django_db  # the live database is only where the store's connection is swapped in
def test_a_row_written_in_bulk_is_the_row_bulk_create_writes(tmp_path):
    path = tmp_path / "store.sqlite3"
    with replay_store(path=path):
        # when one order and its event are written by bulk_create and the same ones by the book's writer
        Order.objects.bulk_create([_order(1, "a")])
        OrderEvent.objects.bulk_create([_event(1, Order(pk=1))])
        names = [f.attname for f in Order._meta.concrete_fields]
        sqlite_rows_insert(Order, names, [[getattr(_order(2, "b"), n) for n in names]])
        names = [f.attname for f in OrderEvent._meta.concrete_fields]
        sqlite_rows_insert(OrderEvent, names, [[getattr(_event(2, Order(pk=2)), n) for n in names]])
        # then SQLite holds the same values, column by column, and the ORM reads them back the same
        orders, events = _rows(path, Order._meta.db_table, (1, 2)), _rows(path, OrderEvent._meta.db_table, (1, 2))
        assert orders[0] == orders[1] and events[0] == events[1]
        a, b = Order.objects.get(pk=1), Order.objects.get(pk=2)
        assert (b.qty, b.filled_at, b.created_at) == (a.qty, a.filled_at, a.created_at) == (
            D("12.500000001"), NOW, NOW)
        assert OrderEvent.objects.get(pk=2).data == OrderEvent.objects.get(pk=1).data
