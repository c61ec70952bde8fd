"""Soak: the embedded platform as ``make run`` starts it, for 10 minutes, under steady trading.

``make soak`` (or ``python -m bench.soak``; ``SOAK_SECONDS`` shortens it). In a folder of its own
(its own ``VAR_DIR``): ``make run``'s steps, then ``run_platform`` — SQLite, the embedded Celery
transport, the simulated exchange delivering fills over its stream. For ``SOAK_SECONDS`` (600): a
TWAP order every 30 s, a manual order every 10 s, and a one-year replay (``manage.py replay``, on
the same embedded settings) started alongside after the first minute. Afterwards, once every TWAP's
horizon has passed, it counts:

- unexpected child exits (the supervisor's restarts) — budget 0;
- lost orders (accepted by the API, not in the ledger or not filled) and duplicated ones (more than
  one order for a client order id, or fills beyond an order's quantity) — budget 0;
- TWAPs complete (their whole quantity filled) — budget all;
- reported beside them: the share of ``/healthz`` samples that answered 200, the manual order
  request's median latency, whether the replay finished, and the embedded transport's measured
  throughput and publish-to-receive latency (one producer, one consumer, 1 KB messages).

Merges its entries (names starting ``soak``) into ``bench/results.json``, keeping the others.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench.util import percentile, result  # noqa: E402
from tests.embedded_platform import EmbeddedPlatform, embedded_env, prepare  # noqa: E402

TWAP_EVERY = 30
MANUAL_EVERY = 10
TWAP_QTY = Decimal(10)
TWAP_SLICES = 5
TWAP_MINUTES = Decimal(2)
REPLAY = ("2021-01-01", "2021-12-31")


def transport_figures(root: Path, *, messages: int = 2000) -> list[dict]:
    """Throughput and publish→receive latency of the embedded transport, measured on its own."""
    from kombu import Connection, Exchange, Queue

    from trading_site.celery_transport import folders_prepare, transport_options

    folders_prepare(root)
    queue = Queue("soak", Exchange("soak"), routing_key="soak")
    pad = "x" * 1000
    latencies: list[float] = []
    with Connection("filesystem://", transport="trading_site.celery_transport:Transport",
                    transport_options=transport_options(root)) as conn:
        producer = conn.Producer()
        simple = conn.SimpleQueue(queue)
        started = time.perf_counter()
        for _ in range(messages):
            producer.publish({"pad": pad}, exchange=queue.exchange, routing_key="soak", declare=[queue])
        for _ in range(messages):
            simple.get(block=True, timeout=30).ack()
        throughput = messages / (time.perf_counter() - started)
        for _ in range(200):  # one at a time: what a task waits between beat and worker
            sent = time.perf_counter()
            producer.publish({"pad": pad}, exchange=queue.exchange, routing_key="soak", declare=[queue])
            simple.get(block=True, timeout=30).ack()
            latencies.append((time.perf_counter() - sent) * 1000)
        simple.close()
    return [
        result("soak: embedded transport throughput (publish + consume, 1 KB)", throughput, "msg/s", "report", True),
        result("soak: embedded transport latency p50 (publish to receive)", percentile(latencies, 50), "ms", "report",
               True),
        result("soak: embedded transport latency p95 (publish to receive)", percentile(latencies, 95), "ms", "report",
               True),
    ]


class Load:
    def __init__(self, platform: EmbeddedPlatform) -> None:
        self.platform = platform
        self.manual: list[str] = []
        self.twaps: list[int] = []
        self.refused: list[tuple[int, dict]] = []
        self.manual_ms: list[float] = []
        self.health: list[int] = []

    def manual_order(self, n: int) -> None:
        coid = f"soak-manual-{n}"
        started = time.perf_counter()
        code, body = self.platform.api("POST", "/api/v1/orders/", {
            "symbol": "AAPL", "side": "buy", "qty": "1", "client_order_id": coid, "reason": "soak"})
        self.manual_ms.append((time.perf_counter() - started) * 1000)
        if code in (200, 201):
            self.manual.append(coid)
        else:
            self.refused.append((code, body))

    def twap_order(self, n: int) -> None:
        code, body = self.platform.api("POST", "/api/v1/orders/", {
            "symbol": "MSFT", "side": "buy", "qty": str(TWAP_QTY), "client_order_id": f"soak-twap-{n}",
            "reason": "soak", "algo": {"type": "twap", "slices": TWAP_SLICES, "horizon_minutes": str(TWAP_MINUTES)}})
        if code in (200, 201):
            self.twaps.append(body["id"])
        else:
            self.refused.append((code, body))


def run(seconds: int | None = None) -> list[dict]:
    seconds = int(seconds or os.environ.get("SOAK_SECONDS", "600"))
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    out = transport_figures(work / "transport")
    var_dir = work / "var"
    print(f"soak: preparing {var_dir} (migrate, setup_demo)", flush=True)
    prepare(var_dir)
    platform = EmbeddedPlatform(var_dir, log_path=work / "run_platform.log")
    platform.start()
    print(f"soak: platform up at {platform.url}; {seconds} s of load (log {work / 'run_platform.log'})", flush=True)
    load = Load(platform)
    replay_log = open(work / "replay.log", "wb")  # noqa: SIM115 - closed below
    replay: subprocess.Popen | None = None
    replay_started = replay_ended = None
    errors: list[str] = []
    try:
        started = time.monotonic()
        tick = 0
        while time.monotonic() - started < seconds:
            elapsed = time.monotonic() - started
            if replay is None and elapsed >= 60:
                replay = subprocess.Popen(
                    [sys.executable, "manage.py", "replay", "--start", REPLAY[0], "--end", REPLAY[1], "--json"],
                    cwd=ROOT, env=embedded_env(var_dir), stdout=replay_log, stderr=subprocess.STDOUT)
                replay_started = time.monotonic()
            if replay is not None and replay_ended is None and replay.poll() is not None:
                replay_ended = time.monotonic()
            try:
                if tick % MANUAL_EVERY == 0:
                    load.manual_order(tick // MANUAL_EVERY)
                if tick % TWAP_EVERY == 0:
                    load.twap_order(tick // TWAP_EVERY)
                if tick % 5 == 0:
                    load.health.append(platform.healthz())
            except Exception as exc:  # a request that times out counts, the soak goes on
                errors.append(f"{elapsed:.0f}s {type(exc).__name__}: {exc}")
            tick += 1
            time.sleep(max(0.0, started + tick - time.monotonic()))
        # Let the last TWAP run its horizon and every fill land.
        settle_until = time.monotonic() + float(TWAP_MINUTES) * 60 + 90
        while time.monotonic() < settle_until and not _all_done(platform, load):
            time.sleep(5)
        if replay is not None and replay.poll() is None:
            replay.wait(timeout=max(1.0, settle_until - time.monotonic()) + 600)
        if replay is not None and replay_ended is None:
            replay_ended = time.monotonic()
        figures = _count(platform, load)
    finally:
        if replay is not None and replay.poll() is None:
            replay.kill()
        replay_log.close()
        exit_code = platform.stop()
    restarts = figures["restarts"]
    print(f"soak: {json.dumps(figures | {'errors': errors[:10]}, default=str)}", flush=True)
    out += [
        result(f"soak: unexpected child exits in {seconds // 60} min", restarts, "exits", "0", restarts == 0),
        result("soak: lost orders (accepted, never filled)", figures["lost"], "orders", "0", figures["lost"] == 0),
        result("soak: duplicated orders or fills", figures["duplicated"], "orders", "0", figures["duplicated"] == 0),
        result(f"soak: TWAPs complete ({figures['twaps_complete']} of {len(load.twaps)})",
               figures["twaps_complete"] / max(1, len(load.twaps)), "share", "1.0 (all)",
               figures["twaps_complete"] == len(load.twaps) and len(load.twaps) > 0),
        result(f"soak: orders refused or requests failed ({len(load.refused)} refused, {len(errors)} failed)",
               len(load.refused) + len(errors), "requests", "report", True),
        result("soak: /healthz samples answering 200", sum(1 for c in load.health if c == 200) / max(1, len(load.health)),
               "share", "report", True),
        result("soak: manual order request p50", statistics.median(load.manual_ms) if load.manual_ms else 0, "ms",
               "report", True),
        result("soak: manual order request p95", percentile(load.manual_ms, 95) if load.manual_ms else 0, "ms",
               "report", True),
        result("soak: one-year replay alongside finished (exit 0)", 1 if replay is not None and replay.returncode == 0
               else 0, "bool", "report", True),
        result("soak: one-year replay duration", (replay_ended or 0) - (replay_started or 0), "s", "report", True),
        result("soak: run_platform stopped cleanly on SIGTERM", 1 if exit_code == 0 else 0, "bool", "1", exit_code == 0),
    ]
    return out


def _all_done(platform: EmbeddedPlatform, load: Load) -> bool:
    try:
        return _count(platform, load)["pending"] == 0
    except Exception:  # the database busy: look again in a moment
        return False


def _count(platform: EmbeddedPlatform, load: Load) -> dict:
    rows = platform.query(
        "SELECT client_order_id, COUNT(*), SUM(qty), SUM(filled_qty), MIN(status), MAX(status) FROM orders_order "
        "WHERE client_order_id LIKE 'soak-manual-%' GROUP BY client_order_id")
    by_coid = {r[0]: r for r in rows}
    lost = sum(1 for coid in load.manual if coid not in by_coid or by_coid[coid][5] != "filled")
    duplicated = sum(1 for r in rows if r[1] > 1)
    over = platform.query(
        "SELECT COUNT(*) FROM (SELECT o.id FROM orders_order o JOIN orders_fill f ON f.order_id = o.id "
        "WHERE o.client_order_id LIKE 'soak-%' OR o.parent_order_id IS NOT NULL "
        "GROUP BY o.id HAVING SUM(f.qty) > MAX(o.qty))")[0][0]
    twaps_complete = 0
    for parent_id in load.twaps:
        filled = platform.query("SELECT SUM(filled_qty) FROM orders_order WHERE parent_order_id = ?", (parent_id,))
        if filled[0][0] is not None and Decimal(str(filled[0][0])) == TWAP_QTY:
            twaps_complete += 1
    restarts = sum(child.get("restarts_last_hour", 0) for child in platform.children().values())
    pending = lost + (len(load.twaps) - twaps_complete)
    return {"lost": lost, "duplicated": duplicated + over, "twaps_complete": twaps_complete, "restarts": restarts,
            "pending": pending, "manual": len(load.manual), "twaps": len(load.twaps)}


def main() -> int:
    items = run()
    for item in items:
        mark = "ok " if item["ok"] else "OVER"
        print(f"   [{mark}] {item['name']}: {item['value']} {item['unit']} (budget {item['budget']})", flush=True)
    path = HERE / "results.json"
    kept = [r for r in json.loads(path.read_text()) if not str(r.get("name", "")).startswith("soak")] \
        if path.exists() else []
    path.write_text(json.dumps(kept + items, indent=2, default=str) + "\n")
    print(f"wrote {len(items)} soak results into bench/results.json")
    return 0 if all(item["ok"] for item in items) else 1


if __name__ == "__main__":
    threading.current_thread().name = "soak"
    sys.exit(main())
