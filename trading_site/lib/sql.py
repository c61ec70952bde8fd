"""Plain SQL for the few hot-path reads where building the ORM query costs more than running it.

Use only for single-table, indexed look-ups on the order path (measured: an ORM ``filter().first()``
costs ~0.5 ms of Python per call, the same read here ~0.1 ms). The SQL is portable between
PostgreSQL and SQLite; table and column names come from the models' ``_meta``, never from input.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from django.db import connection


def fetch_one(sql: str, params: Sequence[object]) -> tuple | None:
    """The first row of ``sql`` with ``params`` bound by the driver, or None."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


# --- bulk inserts into SQLite (a replay's store, the embedded default) --------------------------------


def _as_is(value: object) -> object:
    return value


def _sqlite_converter(field, connection) -> Callable[[object], object]:
    """What ``bulk_create`` sends SQLite for ``field``, without its per-value machinery where the
    answer is known (Django's own conversion otherwise): Decimals, text and numbers as they are,
    aware datetimes as naive UTC text, dates as ISO text, JSON through ``json.dumps``, UUIDs as hex."""

    prep = field.get_db_prep_save

    def django(value):
        return prep(value, connection)

    kind = field.get_internal_type()
    if kind == "DateTimeField" and connection.timezone_name == "UTC":
        texts: dict[dt.datetime, str] = {}  # rows written together share their timestamps

        def datetime_text(value):
            if isinstance(value, dt.datetime) and value.tzinfo is not None:
                text = texts.get(value)
                if text is None:
                    text = texts[value] = str(value.astimezone(dt.UTC).replace(tzinfo=None))
                return text
            return prep(value, connection)

        return datetime_text
    if kind == "DateField":
        return lambda value: value.isoformat() if type(value) is dt.date else prep(value, connection)
    if kind == "DecimalField":
        return lambda value: value if value is None or isinstance(value, Decimal) else prep(value, connection)
    if kind == "JSONField" and field.encoder is None:
        return lambda value: None if value is None and field.null else json.dumps(value)
    if kind == "UUIDField":
        return lambda value: value.hex if isinstance(value, uuid.UUID) else prep(value, connection)
    if kind in ("CharField", "TextField", "IntegerField", "PositiveIntegerField", "BigIntegerField",
                "SmallIntegerField", "PositiveSmallIntegerField", "PositiveBigIntegerField", "BooleanField",
                "AutoField", "BigAutoField", "FloatField"):
        return _as_is
    if kind == "ForeignKey":
        return _sqlite_converter(field.target_field, connection)
    return django


def sqlite_rows_insert(model, attnames: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """Insert ``rows`` (Python values in ``attnames``' order, as a model instance holds them) into
    ``model``'s table in one ``executemany``, values converted as ``bulk_create`` would. SQLite only
    (PostgreSQL has COPY): ~10× cheaper per row than ``bulk_create`` for the replay's thousands."""
    if connection.vendor != "sqlite":
        raise ValueError("sqlite_rows_insert writes to SQLite only")
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    fields = [by_attname[name] for name in attnames]
    convert = [_sqlite_converter(f, connection) for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({marks})"
    # Only the columns whose values need converting are touched (text and numbers pass as they are).
    converted = [(i, conv) for i, conv in enumerate(convert) if conv is not _as_is]
    width = len(fields)
    values = []
    for row in rows:
        if len(row) != width:
            raise ValueError(f"a row of {len(row)} values for {width} columns")
        row = list(row)
        for i, conv in converted:
            row[i] = conv(row[i])
        values.append(row)
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)
    return len(values)
