"""The embedded platform as ``make run`` starts it, in a folder of its own, for process tests and the soak.

:class:`EmbeddedPlatform` prepares a ``VAR_DIR`` (migrate, setup_demo — the steps of ``make run``),
starts ``manage.py run_platform`` there with no ``DATABASE_URL`` or ``REDIS_URL`` (SQLite, the
embedded Celery transport, the file cache, the simulated exchange delivering fills over its
stream), and offers what a test needs from outside: the children's pids as the supervisor
publishes them, HTTP calls with an operator's API token, and the log.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "embedded-platform-pw"
STRIPPED = {"DATABASE_URL", "REDIS_URL", "DJANGO_ENV", "BROKER", "DJANGO_SETTINGS_MODULE", "VAR_DIR",
            "SIM_FILL_DELIVERY", "PORT"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def embedded_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in STRIPPED}
    env.update(DJANGO_SETTINGS_MODULE="trading_site.settings", VAR_DIR=str(var_dir), SIM_MARKET_HOURS="always",
               DEMO_PASSWORD=PASSWORD, PYTHONUNBUFFERED="1",
               # a flat 100,000 account (the orders these runs place are sized for it); the demo market's
               # warm start has its own process test (tests/test_demo_market_process.py)
               DEMO_BACKFILL_SESSIONS="0")
    env.update(extra)
    return env


def prepare(var_dir: Path, **extra: str) -> None:
    """``make run``'s steps before run_platform: the start check, migrate, setup_demo."""
    env = embedded_env(var_dir, **extra)
    for args in (["-m", "trading_site.instance"], ["manage.py", "migrate", "--noinput", "-v0"],
                 ["manage.py", "setup_demo"]):
        result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=600)
        if result.returncode:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")


class EmbeddedPlatform:
    def __init__(self, var_dir: Path, *, log_path: Path, **extra: str) -> None:
        self.var_dir = var_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = embedded_env(var_dir, **extra)
        self.proc: subprocess.Popen | None = None
        self._log = None
        self._token = ""

    # --- life ------------------------------------------------------------------------------------
    def start(self, *, ready_timeout: float = 240) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "manage.py", "run_platform", "--port", str(self.port)],
                                     cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + ready_timeout
        while "Press Ctrl-C to stop every process." not in self.log():
            if self.proc.poll() is not None:
                raise RuntimeError(f"run_platform exited with {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"run_platform not ready after {ready_timeout} s:\n{self.log_tail()}")
            time.sleep(0.5)

    def stop(self, *, timeout: float = 60) -> int | None:
        if self.proc is None:
            return None
        try:
            children = list(self.pids().values())
        except sqlite3.Error:
            children = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # Anything left (there should be nothing): the supervisor's group and each child's own.
        for pgid in (self.proc.pid, *children):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError, TypeError):
                pass
        if self._log:
            self._log.close()
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    # --- what the supervisor publishes -------------------------------------------------------------
    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        conn = sqlite3.connect(self.var_dir / "trading.sqlite3", timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def children(self) -> dict[str, dict]:
        rows = self.query("SELECT detail FROM trading_site_heartbeat WHERE name = 'platform'")
        if not rows:
            return {}
        detail = rows[0][0]
        return (json.loads(detail) if isinstance(detail, str) else detail).get("children", {})

    def pids(self) -> dict[str, int]:
        return {name: child["pid"] for name, child in self.children().items()}

    # --- HTTP ----------------------------------------------------------------------------------------
    def healthz(self) -> int:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, OSError):
            return 0

    def api(self, method: str, path: str, body: dict | None = None, *, timeout: float = 30) -> tuple[int, dict]:
        if not self._token:
            self._token = self._request("POST", "/api/v1/auth/token/",
                                        {"username": "operator", "password": PASSWORD}, token="")[1]["token"]
        return self._request(method, path, body, token=self._token, timeout=timeout)

    def _request(self, method: str, path: str, body: dict | None, *, token: str,
                 timeout: float = 30) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Token {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
