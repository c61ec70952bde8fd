"""Two replays and live trading at once on the embedded SQLite database (issue 15), in real processes
configured as ``make run`` configures them: both replays finish, and live orders placed meanwhile
fill within seconds (the replays write to databases of their own, never to the live file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.worker  # starts replay and platform processes

ROOT = Path(__file__).resolve().parents[1]

LIVE_ORDERS = """
import json, time, django
django.setup()
from orders.gateway import order_dry_run, order_place

# warm: the first call of a fresh process imports and connects (seconds on a loaded machine); what is
# timed below is the order path of a running platform while the replays run
order_dry_run(symbol="KO", side="buy", qty="1", source="manual")
out = []
for k in range(3):
    started = time.monotonic()
    order = order_place(symbol="KO", side="buy", qty="1", source="manual", reason=f"live {k}").order
    out.append({"status": order.status, "seconds": time.monotonic() - started})
    time.sleep(1)
print(json.dumps(out))
"""


@pytest.mark.slow(seconds=90)  # the xdist scheduler starts the longest first
def test_two_replays_and_live_orders_at_once_on_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_ENV", "BROKER"}}
    env.update(DJANGO_SETTINGS_MODULE="trading_site.settings", VAR_DIR=str(tmp_path), SIM_MARKET_HOURS="always",
               SIM_FILL_DELIVERY="inline", DEMO_PASSWORD="replay-sqlite-pw",
               DEMO_BACKFILL_SESSIONS="0")  # the demo account's warm start is not what this is about (60 sessions)
    manage = [sys.executable, "manage.py"]
    migrate = subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=600)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    setup = subprocess.run([*manage, "setup_demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert setup.returncode == 0, setup.stderr[-3000:]
    replay = [*manage, "replay", "--start", "2011-01-01", "--end", "2011-06-30", "--strategies", "sma-crossover",
              "--json"]
    replays = [subprocess.Popen(replay, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    try:
        time.sleep(8)  # both have read the live data and are trading in their own files
        # (inline fill delivery: this measures whether the live file is blocked, not the fill stream)
        live = subprocess.run([sys.executable, "-c", LIVE_ORDERS], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=300)
        still_running = [p.poll() is None for p in replays]
        outputs = [p.communicate(timeout=1500) for p in replays]
    finally:
        for p in replays:
            if p.poll() is None:
                p.kill()
    assert live.returncode == 0, live.stderr[-3000:]
    orders = json.loads(live.stdout.strip().splitlines()[-1])
    assert [o["status"] for o in orders] == ["filled"] * 3
    assert max(o["seconds"] for o in orders) < 5, orders
    assert any(still_running), "the live orders were placed while a replay was running"
    results = []
    for p, (out, err) in zip(replays, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
        results.append(json.loads(out))
    assert results[0]["status"] == results[1]["status"] == "completed"
    assert results[0]["final_equity"] == results[1]["final_equity"] and results[0]["trades"] > 0
    assert results[0]["store"] != results[1]["store"]
    assert all(Path(r["store"]).parent == tmp_path / "replays" for r in results)
