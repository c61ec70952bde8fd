"""A replay's database of its own (ADR 0019): one SQLite file per replay, never the live database.

:func:`replay_store` creates a fresh SQLite file with every model's table (from the models, not the
migrations: the store is born at the current schema and never migrated) and makes it *this thread's*
``default`` connection for the block. Everything the live code does inside — the workflow, the
gateway, the simulated exchange, fills, positions, tax lots, alerts — then reads and writes the
store, while every other thread of the process (a live order placed meanwhile, another replay) keeps
its own connection. On exit the live connection is put back; the file stays for inspection (the
``ReplayRun`` row in the live database names it) unless the caller removes it.

Why a file and not a PostgreSQL schema on PostgreSQL deployments: a replay is a research job. Its
ledger in a local file costs no round trips and takes no lock, no catalog entry and no connection of
the shared server, so any number of replays run at once with each other and with live trading on
either database; the results the console shows are stored in the live database's ``ReplayRun``.

The live database is only *read* by a replay (bars, assets, strategy definitions, risk limits) —
before the store is switched in, in short autocommit reads that hold no lock.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import load_backend

# A store is private to one replay and rebuilt from the live data if lost: no fsync, no journal file.
_PRAGMAS = "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536"


_local = threading.local()  # the live connection a replay store stands in for, per thread


def replay_dir() -> Path:
    path = Path(settings.VAR_DIR) / "replays"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _wrapper(path: Path):
    config = connections.configure_settings(
        {DEFAULT_DB_ALIAS: {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path),
                            "OPTIONS": {"init_command": _PRAGMAS}}}
    )[DEFAULT_DB_ALIAS]
    backend = load_backend(config["ENGINE"])
    return backend.DatabaseWrapper(config, DEFAULT_DB_ALIAS)


def _schema_create(conn) -> None:
    models = [m for m in apps.get_models() if m._meta.managed and not m._meta.proxy]  # M2M tables come with their model
    with conn.schema_editor() as editor:
        for model in models:
            editor.create_model(model)


@contextlib.contextmanager
def replay_store(*, path: Path) -> Iterator[Path]:
    """A new SQLite database at ``path`` as this thread's ``default`` connection inside the block."""
    if path.exists():
        raise FileExistsError(f"replay store {path} already exists")
    live = connections[DEFAULT_DB_ALIAS]
    store = _wrapper(path)
    connections[DEFAULT_DB_ALIAS] = store
    _local.live = live
    try:
        _schema_create(store)
        yield path
    finally:
        _local.live = None
        try:
            store.close()
        finally:
            connections[DEFAULT_DB_ALIAS] = live


@contextlib.contextmanager
def live_connection() -> Iterator[None]:
    """Inside :func:`replay_store`: the live database again for the block (the replay's own progress
    row). Outside a replay: nothing changes."""
    live = getattr(_local, "live", None)
    if live is None:
        yield
        return
    store = connections[DEFAULT_DB_ALIAS]
    connections[DEFAULT_DB_ALIAS] = live
    try:
        yield
    finally:
        connections[DEFAULT_DB_ALIAS] = store
