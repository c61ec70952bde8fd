"""Platform benchmark: /healthz and the login page under 10 concurrent clients, through gunicorn.

A real gunicorn (2 workers × 4 threads, as ``make run``) serves the benchmark database; 10 client
threads issue requests over keep-alive-less HTTP on loopback. Reports p50/p95 latency and throughput.
Budget: server p95 < 100 ms (SPEC's page budget).
"""

from __future__ import annotations

import http.client
import threading
import time

from bench.util import clients_run, gunicorn_server, percentile, result

CLIENTS = 10
REQUESTS_PER_CLIENT = 60


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

    elapsed = clients_run(client, clients=CLIENTS)
    return latencies, len(latencies) / elapsed


def run() -> list[dict]:
    from trading_site.health import heartbeat_record

    heartbeat_record(name="worker")
    heartbeat_record(name="beat")
    with gunicorn_server("trading_site.wsgi:application") as port:
        _load(port, "/healthz")  # warm-up
        out = []
        for name, path in (("healthz", "/healthz"), ("login_page", "/accounts/login/")):
            latencies, rps = _load(port, path)
            p95 = percentile(latencies, 95)
            out.append(result(f"{name} p95 latency, 10 clients", p95, "ms", "<100 ms", p95 < 100))
            out.append(result(f"{name} p50 latency, 10 clients", percentile(latencies, 50), "ms", "report", True))
            out.append(result(f"{name} throughput, 10 clients", rps, "req/s", "report", True))
        return out
