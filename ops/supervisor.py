"""The embedded platform's process supervisor (``manage.py run_platform``).

Each child (web, worker, beat, trade stream) is an ordinary production process. A child that exits
when nobody asked it to is started again after a back-off — 1 s, doubling to 30 s, back to 1 s once
it has stayed up for a minute — and the exit is logged once, with its status and restart count.
Each child runs in a process group of its own; when it dies, what it left behind (gunicorn workers
still holding the port, Celery pool processes) is killed before it is started again.
Only Ctrl-C / SIGTERM stops the platform (every child, cleanly). The supervisor publishes what it
sees as the ``platform`` heartbeat (children, pids, restarts in the last hour), which ``/healthz``
and the console's Platform panel read; that write happens on a thread of its own, so a locked or
unreachable database never delays a restart. docs/ADRs/0018-embedded-transport-and-supervision.md.
"""

from __future__ import annotations

import collections
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0  # seconds up after which the next restart waits BACKOFF_FIRST again
RESTART_WINDOW = 3600.0
HEARTBEAT_NAME = "platform"


def exit_description(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


@dataclass
class Child:
    name: str
    command: list[str]
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    backoff: float = BACKOFF_FIRST
    restarts: int = 0
    restart_times: collections.deque = field(default_factory=collections.deque)
    last_exit: str = ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Supervisor:
    def __init__(self, commands: dict[str, list[str]], *, cwd, write: Callable[[str], None],
                 publish: Callable[[dict], None] | None = None, clock: Callable[[], float] = time.monotonic,
                 spawn: Callable[..., subprocess.Popen] = subprocess.Popen) -> None:
        self.children = {name: Child(name, command) for name, command in commands.items()}
        self.cwd = cwd
        self.write = write
        self.clock = clock
        self.spawn = spawn
        self.stopping = threading.Event()
        self._publisher = _Publisher(publish) if publish else None

    # --- one pass ------------------------------------------------------------------------------
    def start_all(self) -> None:
        for child in self.children.values():
            self._start(child)
        self.publish()

    def _start(self, child: Child) -> None:
        # A session (process group) of its own: when the child dies, whatever it left behind
        # (gunicorn's workers still holding the port, Celery's pool processes) goes with it.
        child.proc = self.spawn(child.command, cwd=self.cwd, start_new_session=True)
        child.started_at = self.clock()
        child.restart_at = None

    def step(self) -> bool:
        """Look at every child once; returns whether anything changed."""
        changed = False
        now = self.clock()
        for child in self.children.values():
            if child.proc is not None and child.restart_at is None and child.proc.poll() is not None:
                if now - child.started_at >= STABLE_AFTER:
                    child.backoff = BACKOFF_FIRST
                child.last_exit = exit_description(child.proc.returncode)
                _group_kill(child.proc.pid)
                child.restart_at = now + child.backoff
                child.restarts += 1
                child.restart_times.append(time.time())
                self.write(f"{child.name} (pid {child.proc.pid}) exited unexpectedly: {child.last_exit}; "
                           f"restart {child.restarts} in {child.backoff:g} s")
                child.backoff = min(child.backoff * 2, BACKOFF_MAX)
                changed = True
            elif child.restart_at is not None and now >= child.restart_at:
                self._start(child)
                changed = True
        if changed:
            self.publish()
        return changed

    def snapshot(self) -> dict:
        cutoff = time.time() - RESTART_WINDOW
        children = {}
        for child in self.children.values():
            while child.restart_times and child.restart_times[0] < cutoff:
                child.restart_times.popleft()
            children[child.name] = {
                "pid": child.proc.pid if child.proc is not None else None,
                "running": child.running,
                "restarts_last_hour": len(child.restart_times),
                "last_exit": child.last_exit,
            }
        return {
            "pid": os.getpid(),
            "children": children,
            "restarts_last_hour": sum(c["restarts_last_hour"] for c in children.values()),
        }

    def publish(self) -> None:
        if self._publisher:
            self._publisher.offer(self.snapshot())

    # --- the loop ------------------------------------------------------------------------------
    def run(self, *, interval: float = 0.25, publish_every: float = 5.0) -> None:
        last_publish = self.clock()
        while not self.stopping.is_set():
            self.step()
            if self.clock() - last_publish >= publish_every:
                self.publish()
                last_publish = self.clock()
            self.stopping.wait(interval)

    def stop_all(self, *, grace: float = 15.0) -> None:
        self.stopping.set()
        procs = [c.proc for c in self.children.values() if c.proc is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for proc in procs:
            _group_kill(proc.pid)  # anything a child left running
        if self._publisher:
            self._publisher.close()


def _group_kill(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _Publisher:
    """Writes the latest snapshot from a thread of its own; a failed write is retried with the next."""

    def __init__(self, publish: Callable[[dict], None]) -> None:
        self._publish = publish
        self._latest: dict | None = None
        self._ready = threading.Condition()
        self._closed = False
        self._failing = False
        self._thread = threading.Thread(target=self._run, name="supervisor-publisher", daemon=True)
        self._thread.start()

    def offer(self, snapshot: dict) -> None:
        with self._ready:
            self._latest = snapshot
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            with self._ready:
                while self._latest is None and not self._closed:
                    self._ready.wait()
                if self._closed:
                    return
                snapshot, self._latest = self._latest, None
            try:
                self._publish(snapshot)
                if self._failing:
                    logger.warning("platform status: recording works again")
                self._failing = False
            except Exception as exc:  # the database may be down or locked; the next snapshot retries
                if not self._failing:
                    logger.warning("platform status: could not record (%s); will retry", type(exc).__name__)
                self._failing = True
