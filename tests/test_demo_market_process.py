"""The embedded default as ``make run`` starts it, on the demo market, with no user action.

Each test runs the real commands (``migrate``, ``setup_demo``, ``run_platform``) in fresh processes with
no DATABASE_URL/REDIS_URL — SQLite and the server-less Celery transport, exactly the embedded default —
and reads the platform through its HTTP API as an integration would.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

from marketdata import demo_market

pytestmark = [pytest.mark.worker]

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "demo-market-pw"
METHODS = ("rank_aggregation", "inverse_vol", "equal_weight")
BACKFILLED = re.compile(r"demo back-fill \d+/\d+: (\d{4}-\d{2}-\d{2}) ")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def embedded_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_ENV", "BROKER", "DJANGO_SETTINGS_MODULE", "DEMO_MARKET"}}
    env.update(DJANGO_SETTINGS_MODULE="trading_site.settings", VAR_DIR=str(var_dir), SIM_MARKET_HOURS="always",
               DEMO_PASSWORD=PASSWORD, **extra)
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 900) -> str:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout


class Api:
    def __init__(self, base: str) -> None:
        self.base = base
        self.token = ""

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[dict | list, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Token {self.token}")
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read()), dict(response.headers)

    def login(self) -> None:
        body, _ = self.call("POST", "/api/v1/auth/token/", {"username": "operator", "password": PASSWORD})
        self.token = body["token"]


@contextlib.contextmanager
def platform(env: dict[str, str], log: Path):
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "manage.py", "run_platform", "--port", str(port)], cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield f"http://127.0.0.1:{port}", proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def wait_for(predicate, *, timeout: float, what: str, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def login_page_answers(base: str) -> bool:
    with urllib.request.urlopen(base + "/accounts/login/", timeout=10) as response:
        return response.status == 200


@pytest.mark.slow(seconds=140)  # the xdist scheduler starts the longest first
def test_the_embedded_default_opens_on_a_traded_demo_account(tmp_path):
    env = embedded_env(tmp_path, DEMO_BACKFILL_SESSIONS="25")
    manage(env, "migrate", "--noinput")
    setup = manage(env, "setup_demo")
    assert "demo market: warm start: back-filled 25 session(s)" in setup
    # resumable: a second start redoes no day. When New York's close passes between the two starts,
    # today's session has finished meanwhile and is the one day the second start adds.
    again = manage(env, "setup_demo")
    first_days, again_days = BACKFILLED.findall(setup), BACKFILLED.findall(again)
    assert len(first_days) == 25 and not set(first_days) & set(again_days), (first_days, again)
    if again_days:
        assert len(again_days) == 1 and again_days[0] > max(first_days), again
        assert "demo market: warm start: back-filled 1 session(s)" in again
    else:
        assert "demo market: warm start: back-fill complete (25 sessions)" in again
    with platform(env, tmp_path / "platform.log") as (base, proc):
        wait_for(lambda: login_page_answers(base), timeout=120, what="the login page")
        answered = time.monotonic()
        api = Api(base)
        api.login()
        for method in METHODS:  # no date: the latest session with data
            preview, headers = api.call("POST", "/api/v1/allocations/preview/", {"method": method})
            total = sum(Decimal(str(w["final_weight"])) for w in preview["weights"])
            assert abs(total - Decimal(str(preview["gross"]))) < Decimal("0.000001"), (method, total)
            assert preview["session"] is not None
            assert headers["X-Demo-Market"].startswith("demo market - real prices of ")
        runs, _ = api.call("GET", "/api/v1/rebalance-runs/")
        assert any(r["status"] == "completed" for r in runs)
        performance, _ = api.call("GET", "/api/v1/performance/")
        assert len(performance["days"]) >= 20
        strategies, _ = api.call("GET", "/api/v1/strategies/")
        for strategy in (s for s in strategies if s["enabled"]):
            signals, _ = api.call("GET", f"/api/v1/signals/?strategy={strategy['name']}")
            assert signals["results"], strategy["name"]
        first, _ = api.call("GET", "/api/v1/positions/")
        assert first, "the back-fill leaves positions"
        time.sleep(60)
        second, _ = api.call("GET", "/api/v1/positions/")
        before = {p["symbol"]: p["last_price"] for p in first}
        after = {p["symbol"]: p["last_price"] for p in second}
        assert any(before[s] != after.get(s) for s in before), (before, after)
        assert time.monotonic() - answered < 300
        assert proc.poll() is None, (tmp_path / "platform.log").read_text()[-3000:]


@pytest.mark.slow(seconds=330)  # the xdist scheduler starts the longest first
def test_fast_mode_plays_five_trading_days_in_six_minutes(tmp_path):
    env = embedded_env(tmp_path, DEMO_BACKFILL_SESSIONS="3", DEMO_DAY_MINUTES="1")
    manage(env, "migrate", "--noinput")
    manage(env, "setup_demo")
    db = tmp_path / "trading.sqlite3"

    def completed_days() -> list[str]:
        with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
            rows = conn.execute(
                "SELECT p.day FROM strategies_dailyperformance p JOIN strategies_rebalancerun r "
                "ON r.day = p.day AND r.mode = 'live' AND r.status IN ('completed', 'failed') ORDER BY p.day"
            ).fetchall()
        return [r[0] for r in rows]

    with platform(env, tmp_path / "platform.log") as (base, proc):
        wait_for(lambda: login_page_answers(base), timeout=120, what="the login page")
        started = completed_days()
        began = time.monotonic()
        wait_for(lambda: len(completed_days()) >= len(started) + 5, timeout=360, interval=5,
                 what="five more demo trading days")
        assert time.monotonic() - began <= 360
        new = [dt.date.fromisoformat(d) for d in completed_days() if d not in started]
        # consecutive NYSE sessions: none skipped (a run may fail at the risk step when a circuit breaker
        # trips on the real prices — it is still the day's recorded run)
        assert new == demo_market.demo_sessions(end=new[-1])[-len(new):], new
        assert len(new) >= 5
        assert proc.poll() is None, (tmp_path / "platform.log").read_text()[-3000:]
