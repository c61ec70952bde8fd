"""One embedded platform per ``var/``: a lock held by ``run_platform``, and a pre-start check.

``make run`` calls ``python -m trading_site.instance`` before it migrates, so starting it a second
time, or while another process holds the SQLite file's write lock for long (a replay on the live
file), fails with one clear sentence — not with Django's misleading ``SystemCheckError`` (a locked
file makes its JSON-support probe fail, which it reports as ``fields.E180``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings


class AlreadyRunning(RuntimeError):
    pass


def lock_path() -> Path:
    return Path(settings.VAR_DIR) / "platform.lock"


def _holder(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


@contextlib.contextmanager
def instance_lock() -> Iterator[None]:
    """Held for as long as ``run_platform`` runs; a second one raises :class:`AlreadyRunning`."""
    path = lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(
                f"Another platform is already running on {settings.VAR_DIR}{_holder(path)}. "
                "Stop it (Ctrl-C in its terminal) or give this one VAR_DIR=... of its own."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)


def sqlite_busy(timeout: float = 5.0, *, db: dict | None = None) -> str | None:
    """On SQLite: a sentence naming the file when another process holds its write lock, else ``None``."""
    db = db or settings.DATABASES["default"]
    if not db["ENGINE"].endswith("sqlite3") or not Path(db["NAME"]).exists():
        return None
    conn = sqlite3.connect(db["NAME"], timeout=timeout, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return None
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        return (f"{db['NAME']} is locked by another process (a running platform, a replay or another "
                f"manage.py command) and stayed locked for {timeout:g} s. Wait for it to finish or stop it, "
                "then start again.")
    finally:
        conn.close()


def start_check() -> str | None:
    """What stops this start, in one sentence; ``None`` when nothing does."""
    try:
        with instance_lock():
            pass
    except AlreadyRunning as exc:
        return str(exc)
    return sqlite_busy()


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading_site.settings")
    problem = start_check()
    if problem:
        print(f"Cannot start: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
