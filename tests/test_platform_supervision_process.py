"""The embedded platform never stops on its own: SIGKILL each child of ``run_platform`` in turn.

``run_platform`` on the embedded settings (SQLite, the embedded Celery transport, the simulated
exchange delivering fills over its stream), as ``make run`` starts it. While a TWAP order runs,
the web server, the Celery worker, beat and the trade stream are each killed with SIGKILL: each is
back, and ``/healthz`` answers 200, within 30 s; no other child was restarted; the TWAP completes
its quantity exactly once. Ctrl-C's signal (SIGTERM here) then stops everything, cleanly.
"""

from __future__ import annotations

import os
import re
import signal
import time
from decimal import Decimal

import pytest

from tests.embedded_platform import EmbeddedPlatform, prepare
from tests.processes import wait_for

pytestmark = [pytest.mark.worker]

TOTAL = Decimal(40)


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("embedded-var")
    prepare(var_dir)
    running = EmbeddedPlatform(var_dir, log_path=var_dir / "run_platform.log")
    running.start()
    yield running
    running.stop()


def _restarted(platform: EmbeddedPlatform, name: str, old_pid: int) -> bool:
    child = platform.children().get(name, {})
    return child.get("running") and child.get("pid") not in (None, old_pid) and platform.healthz() == 200


@pytest.mark.slow(seconds=150)  # the xdist scheduler starts the longest first
def test_each_child_killed_in_turn_is_back_within_30_s_and_a_twap_completes_once(platform):
    assert platform.healthz() == 200
    status, body = platform.api("POST", "/api/v1/orders/", {
        "symbol": "AAPL", "side": "buy", "qty": str(TOTAL), "reason": "supervision test",
        "algo": {"type": "twap", "slices": 8, "horizon_minutes": "2"},
    })
    assert status == 201, body
    parent_id = body["id"]

    kills = {}
    for name in ("web", "worker", "beat", "trade_stream"):
        before = platform.pids()
        assert set(before) == {"web", "worker", "beat", "trade_stream"}
        os.kill(before[name], signal.SIGKILL)
        started = time.monotonic()
        try:
            wait_for(lambda name=name, pid=before[name]: _restarted(platform, name, pid), timeout=30,
                     interval=0.5, what=f"{name} restarted and /healthz 200")
        except AssertionError as exc:
            pytest.fail(f"{exc}\n{platform.log_tail()}")
        kills[name] = time.monotonic() - started
        after = platform.pids()
        assert {k: v for k, v in after.items() if k != name} == {k: v for k, v in before.items() if k != name}
        assert platform.children()[name]["last_exit"] == "killed by SIGKILL"

    log = platform.log()
    for name in kills:
        assert len(re.findall(rf"^{name} \(pid \d+\) exited unexpectedly", log, re.M)) == 1, name  # logged once
    assert "exited unexpectedly: killed by SIGKILL; restart 1 in 1 s" in log
    assert platform.proc.poll() is None  # the supervisor never stopped
    print(f"back within: {', '.join(f'{k} {v:.1f} s' for k, v in kills.items())}")

    def parent_done():
        code, detail = platform.api("GET", f"/api/v1/orders/{parent_id}/")
        return detail if code == 200 and Decimal(detail["aggregate"]["filled_qty"]) == TOTAL else None

    try:
        wait_for(parent_done, timeout=240, interval=2, what="the TWAP's whole quantity filled")
    except AssertionError as exc:
        pytest.fail(f"{exc}\n{platform.api('GET', f'/api/v1/orders/{parent_id}/')}\n{platform.log_tail()}")
    time.sleep(3)  # a duplicate booking, if any, would land now
    rows = platform.query(
        "SELECT COUNT(*), SUM(o.filled_qty) FROM orders_order o WHERE o.parent_order_id = ?", (parent_id,))
    fills = platform.query(
        "SELECT SUM(f.qty) FROM orders_fill f JOIN orders_order o ON o.id = f.order_id WHERE o.parent_order_id = ?",
        (parent_id,))
    assert Decimal(str(rows[0][1])) == TOTAL
    assert Decimal(str(fills[0][0])) == TOTAL
    position = platform.query("SELECT qty FROM orders_position WHERE symbol = 'AAPL'")
    assert Decimal(str(position[0][0])) == TOTAL
    code, health = platform.api("GET", "/healthz")
    assert code == 200

    pids = platform.pids()
    assert platform.stop() == 0
    assert "all processes stopped" in platform.log()
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
