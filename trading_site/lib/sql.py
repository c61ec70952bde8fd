"""Plain SQL for the few hot-path reads where building the ORM query costs more than running it.

Use only for single-table, indexed look-ups on the order path (measured: an ORM ``filter().first()``
costs ~0.5 ms of Python per call, the same read here ~0.1 ms). The SQL is portable between
PostgreSQL and SQLite; table and column names come from the models' ``_meta``, never from input.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection


def fetch_one(sql: str, params: Sequence[object]) -> tuple | None:
    """The first row of ``sql`` with ``params`` bound by the driver, or None."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()
