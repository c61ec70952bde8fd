"""The embedded default (SQLite, no servers) trades end to end: buy, sell, realized gain booked.

Runs in a fresh process with no DATABASE_URL or REDIS_URL, exactly as `make run` configures it,
because SQLite differs from PostgreSQL where it matters here (decimals are stored as floats, so
check constraints on computed amounts must tolerate binary rounding).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

pytestmark = pytest.mark.worker  # starts the embedded platform's processes

ROOT = Path(__file__).resolve().parents[1]


def test_buy_then_sell_books_a_realized_gain_on_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_ENV", "BROKER"}}
    env.update(DJANGO_SETTINGS_MODULE="trading_site.settings", VAR_DIR=str(tmp_path), SIM_MARKET_HOURS="always",
               DEMO_PASSWORD="embedded-smoke-pw",
               # the demo market's warm start is tested in tests/test_demo_market_process.py; here the
               # account must start flat for the hand-checked buy/sell
               DEMO_BACKFILL_SESSIONS="0")
    result = subprocess.run([sys.executable, "-m", "tests.embedded_smoke"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["vendor"] == "sqlite"
    assert (out["buy"], out["sell"]) == ("filled", "filled")
    assert Decimal(out["position_qty"]) == Decimal(6)
    assert len(out["realized"]) == 1
    qty, proceeds, cost, gain = (Decimal(v) for v in out["realized"][0])
    assert qty == 4
    assert gain == proceeds - cost
