"""Start real platform processes (Celery worker, beat, web) against the *test* database.

Used by tests that need the real thing end to end. The children get the test database's URL and a
Redis database of their own, and are always stopped (SIGTERM, then SIGKILL) when the block ends.

Under pytest-xdist every worker has its own test database, Redis database and ``VAR_DIR``
(trading_site/settings_test.py); the children get the worker's, and :func:`private_redis_db` hands
out Redis databases no other worker uses.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_database_url() -> str:
    s = connection.settings_dict
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


# Redis databases a test may give its children instead of the worker's own (a Celery broker no other
# process of this run consumes from): counted down from 15, PRIVATE_REDIS_SLOTS per xdist worker.
PRIVATE_REDIS_SLOTS = 2


def private_redis_db(slot: int) -> int:
    """Redis database ``slot`` (0 or 1) of this xdist worker's private ones: 15 and 14 for a serial run
    or gw0, 13 and 12 for gw1, ... Never one of the run's own databases (REDIS_URL's, plus the worker index)."""
    if not 0 <= slot < PRIVATE_REDIS_SLOTS:
        raise ValueError(f"slot must be below {PRIVATE_REDIS_SLOTS}")
    number = 15 - PRIVATE_REDIS_SLOTS * settings.XDIST_INDEX - slot
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    base = int(settings.REDIS_URL.rsplit("/", 1)[1] or 0) - settings.XDIST_INDEX  # REDIS_URL's own database
    if base + workers > 16 - PRIVATE_REDIS_SLOTS * workers:
        raise RuntimeError(
            f"the run's Redis databases {base}..{base + workers - 1} overlap the private ones "
            f"(from {16 - PRIVATE_REDIS_SLOTS * workers}): lower REDIS_URL's database or the workers"
        )
    return number


def child_env(*, redis_db: int | None = None, **extra: str) -> dict[str, str]:
    # Not the xdist worker's identity: the child takes the worker's database and Redis URLs as given.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")}
    env["DJANGO_SETTINGS_MODULE"] = "trading_site.settings_test"
    env["DATABASE_URL"] = test_database_url()
    redis_url = settings.REDIS_URL
    if redis_db is not None:
        redis_url = redis_url.rsplit("/", 1)[0] + f"/{redis_db}"
    env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


def celery_command(*args: str) -> list[str]:
    return [str(BIN / "celery"), "-A", "trading_site", *args]


@contextlib.contextmanager
def running(
    commands: dict[str, list[str]], env: dict[str, str], log_dir: Path
) -> Iterator[dict[str, subprocess.Popen]]:
    procs: dict[str, subprocess.Popen] = {}
    logs = {}
    try:
        for name, cmd in commands.items():
            logs[name] = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed in finally
            procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=logs[name], stderr=subprocess.STDOUT)
        yield procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for fh in logs.values():
            fh.close()


def wait_for(predicate: Callable[[], object], *, timeout: float, interval: float = 0.25, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def log_tail(log_dir: Path, name: str, lines: int = 40) -> str:
    path = log_dir / f"{name}.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


class TcpProxy:
    """A loopback TCP proxy a test can take down and bring back, to cut one process off a server.

    ``down()`` closes the listening socket and every open connection (new connections are refused,
    as from a database that went away); ``up()`` listens on the same port again.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        import socket

        self.upstream = upstream
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._lock = threading.Lock()
        self._sockets: set = set()
        self._listener = None
        self.up()

    def up(self) -> None:
        import socket

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        import socket

        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        if listener is not None:
            listener.close()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self.down()

    def _accept(self, listener) -> None:
        import socket

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    server.close()
                    return
                self._sockets.update((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.close()
                except OSError:
                    pass
