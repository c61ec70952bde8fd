"""Small helpers shared by benchmarks: percentiles, result records, concurrent clients, a gunicorn server."""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no samples")
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values)


def result(name: str, value: float, unit: str, budget: str, ok: bool) -> dict:
    return {"name": name, "value": round(value, 4), "unit": unit, "budget": budget, "ok": bool(ok)}


def clients_run(client: Callable[[], None], *, clients: int) -> float:
    """Run ``client`` in ``clients`` threads at once; the wall time in seconds until all finished.
    An exception in any client is raised here (a thread would otherwise only print it and the
    benchmark would report the survivors' figures)."""
    import threading
    import time

    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            client()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a platform process serving the benchmark database (closes this process's
    connection: children must not share it)."""
    import os

    from django.db import connection

    from tests.processes import test_database_url

    connection.close()
    return {**os.environ, "DATABASE_URL": test_database_url(), "DJANGO_SETTINGS_MODULE": "trading_site.settings_test",
            **(env or {})}


@contextlib.contextmanager
def platform_process(command: list[str], *, env: dict[str, str] | None = None) -> Iterator:
    """Run ``command`` (a platform process) from the repository root against the benchmark
    database; terminated when the block ends."""
    import subprocess

    proc = subprocess.Popen(command, cwd=ROOT, env=child_env(env))
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@contextlib.contextmanager
def gunicorn_server(app: str, *, env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> Iterator[int]:
    """Serve ``app`` with gunicorn (``WEB_WORKERS`` × ``WEB_THREADS``, as ``make run``) on a free loopback port,
    against the benchmark database; yields the port once it accepts connections, stops it after."""
    import socket
    import sys
    import time

    from django.conf import settings

    from tests.servers._process import free_port

    port = free_port()
    command = [str(Path(sys.executable).parent / "gunicorn"), app, "--bind", f"127.0.0.1:{port}",
               "--workers", str(settings.WEB_WORKERS), "--threads", str(settings.WEB_THREADS),
               "--log-level", "warning", *args]
    with platform_process(command, env=env) as proc:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        yield port
