"""Start a server subprocess on a free 127.0.0.1 port and wait until it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_ok(url: str, *, accept: Callable[[int], bool] = lambda status: status < 500) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return accept(response.status)
    except urllib.error.HTTPError as exc:
        return accept(exc.code)
    except OSError:
        return False


class ServerProcess:
    """A subprocess whose output goes to a temporary log file (shown if it fails to start)."""

    def __init__(self, argv: list[str], *, ready_url: str, env: dict[str, str] | None = None, timeout: float = 60) -> None:
        self.argv = argv
        self.ready_url = ready_url
        self.env = env
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None

    def start(self) -> ServerProcess:
        fd, name = tempfile.mkstemp(prefix="test-server-", suffix=".log")
        self.log_path = Path(name)
        with os.fdopen(fd, "wb") as log:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited with {self.proc.returncode}: {self.log_tail()}")
            if http_ok(self.ready_url):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.argv[0]} did not answer {self.ready_url} within {self.timeout}s: {self.log_tail()}")

    def log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
