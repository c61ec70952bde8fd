"""Platform benchmark: /healthz and the login page under 10 concurrent clients, through gunicorn.

A real gunicorn (2 workers × 4 threads, as ``make run``) serves the benchmark database; 10 client
threads issue requests over keep-alive-less HTTP on loopback. Reports p50/p95 latency and throughput.
Budget: server p95 < 100 ms (SPEC's page budget).
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.util import percentile, result

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 10
REQUESTS_PER_CLIENT = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load(port: int, path: str) -> tuple[list[float], float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def client():
        mine = []
        for _ in range(REQUESTS_PER_CLIENT):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            start = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - start) * 1000)
            conn.close()
            if response.status not in (200, 503):
                raise RuntimeError(f"{path} answered {response.status}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return latencies, len(latencies) / elapsed


def run() -> list[dict]:
    from django.db import connection

    from tests.processes import test_database_url
    from trading_site.health import heartbeat_record

    heartbeat_record(name="worker")
    heartbeat_record(name="beat")
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=test_database_url(), DJANGO_SETTINGS_MODULE="trading_site.settings_test")
    connection.close()
    gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "trading_site.wsgi:application",
                "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4", "--log-level", "warning"]
    proc = subprocess.Popen(gunicorn, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        _load(port, "/healthz")  # warm-up
        out = []
        for name, path in (("healthz", "/healthz"), ("login_page", "/accounts/login/")):
            latencies, rps = _load(port, path)
            p95 = percentile(latencies, 95)
            out.append(result(f"{name} p95 latency, 10 clients", p95, "ms", "<100 ms", p95 < 100))
            out.append(result(f"{name} p50 latency, 10 clients", percentile(latencies, 50), "ms", "report", True))
            out.append(result(f"{name} throughput, 10 clients", rps, "req/s", "report", True))
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=15)
