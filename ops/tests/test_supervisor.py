"""run_platform's supervisor restarts a child that exits, with back-off, and reports it once.

Real child processes; the supervisor's clock is a counter the test advances, so the back-off
schedule (1 s doubling to 30 s, back to 1 s after a minute up) is checked exactly without sleeping.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from ops.supervisor import BACKOFF_MAX, Supervisor, exit_description
from trading_site.health import health_report, heartbeat_record

EXITS = [sys.executable, "-c", "import sys; sys.exit(3)"]
STAYS = [sys.executable, "-c", "import time; time.sleep(60)"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _wait_exited(sup: Supervisor, name: str) -> None:
    proc = sup.children[name].proc
    proc.wait(10)


@pytest.fixture
def made():
    sups: list[Supervisor] = []

    def make(commands):
        clock, lines, published = Clock(), [], []
        sup = Supervisor(commands, cwd=".", write=lines.append, publish=published.append, clock=clock)
        sups.append(sup)
        return sup, clock, lines, published

    yield make
    for sup in sups:
        sup.stop_all(grace=5)


def test_a_child_that_exits_is_restarted_with_doubling_back_off_and_logged_once_per_exit(made):
    sup, clock, lines, _ = made({"flaky": EXITS, "steady": STAYS})
    sup.start_all()
    steady_pid = sup.children["steady"].proc.pid
    waits = []
    for _ in range(7):
        _wait_exited(sup, "flaky")
        assert sup.step()
        child = sup.children["flaky"]
        waits.append(child.restart_at - clock.now)
        assert not sup.step()  # waiting: nothing new to log
        clock.now = child.restart_at
        assert sup.step()  # started again
        assert child.running or child.proc.poll() == 3
    assert waits == [1, 2, 4, 8, 16, 30, 30]
    assert len(lines) == 7
    assert lines[0].endswith("exited unexpectedly: exit status 3; restart 1 in 1 s")
    assert lines[6].endswith(f"restart 7 in {BACKOFF_MAX:g} s")
    assert sup.children["steady"].proc.pid == steady_pid and sup.children["steady"].restarts == 0


def test_back_off_starts_again_at_one_second_after_a_minute_up(made):
    sup, clock, lines, _ = made({"flaky": EXITS})
    sup.start_all()
    for _ in range(3):
        _wait_exited(sup, "flaky")
        sup.step()
        clock.now = sup.children["flaky"].restart_at
        sup.step()
    clock.now += 61  # the fourth run "stayed up" for a minute before it exited
    _wait_exited(sup, "flaky")
    sup.step()
    assert sup.children["flaky"].restart_at - clock.now == 1
    assert lines[-1].endswith("restart 4 in 1 s")


def test_a_killed_child_is_described_by_its_signal(made):
    sup, clock, lines, published = made({"web": STAYS})
    sup.start_all()
    sup.children["web"].proc.kill()
    _wait_exited(sup, "web")
    sup.step()
    assert lines == [f"web (pid {sup.children['web'].proc.pid}) exited unexpectedly: killed by SIGKILL; restart 1 in 1 s"]
    deadline = time.monotonic() + 5
    while not published or published[-1]["children"]["web"]["running"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert published[-1]["children"]["web"] | {"pid": None} == {
        "pid": None, "running": False, "restarts_last_hour": 1, "last_exit": "killed by SIGKILL"}
    assert published[-1]["restarts_last_hour"] == 1


def test_what_a_dead_child_left_behind_is_killed_before_its_restart(made, tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    # Like gunicorn's master: starts a worker that outlives it, then dies.
    parent = [sys.executable, "-c", (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n")]
    sup, clock, lines, _ = made({"web": parent})
    sup.start_all()
    deadline = time.monotonic() + 20
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    sup.children["web"].proc.kill()
    _wait_exited(sup, "web")
    sup.step()
    deadline = time.monotonic() + 5
    while _alive(grandchild):
        assert time.monotonic() < deadline, "the orphaned worker still runs"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) counts as gone.
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(")")[-1].split()[0] != "Z"


def test_stop_all_ends_every_child(made):
    sup, *_ = made({"a": STAYS, "b": STAYS})
    sup.start_all()
    procs = [c.proc for c in sup.children.values()]
    sup.stop_all(grace=5)
    assert all(p.poll() is not None for p in procs)
    assert exit_description(-15) == "killed by SIGTERM" and exit_description(0) == "exit status 0"


def test_a_publish_that_fails_is_retried_and_never_stops_the_supervisor(made):
    calls = []

    def publish(snapshot):
        calls.append(snapshot)
        if len(calls) == 1:
            raise ConnectionError("database away")

    sup = Supervisor({"a": STAYS}, cwd=".", write=lambda line: None, publish=publish)
    try:
        sup.start_all()  # publishes the first snapshot, which fails
        deadline = time.monotonic() + 5
        while not calls:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert sup.children["a"].running
        sup.publish()  # the next one (the run loop's every 5 s) is recorded
        while len(calls) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        sup.stop_all(grace=5)


def test_healthz_shows_the_supervisor_and_turns_503_while_a_child_is_down(db, settings):
    for name in ("worker", "beat"):
        heartbeat_record(name=name)
    snapshot = {"pid": 1, "restarts_last_hour": 2, "children": {
        "web": {"pid": 2, "running": True, "restarts_last_hour": 0, "last_exit": ""},
        "worker": {"pid": 3, "running": True, "restarts_last_hour": 2, "last_exit": "killed by SIGKILL"},
    }}
    heartbeat_record(name="platform", detail=snapshot)
    ok, report = health_report()
    assert report["checks"]["platform"] == {
        "ok": True, "restarts_last_hour": 2,
        "children": {"web": {"running": True, "restarts_last_hour": 0, "last_exit": ""},
                     "worker": {"running": True, "restarts_last_hour": 2, "last_exit": "killed by SIGKILL"}},
    }
    snapshot["children"]["worker"]["running"] = False
    heartbeat_record(name="platform", detail=snapshot)
    ok, report = health_report()
    assert not ok and report["checks"]["platform"]["error"] == "restarting worker"


def test_a_stale_supervisor_report_is_left_out(db, settings):
    import datetime as dt

    from trading_site.lib import clock
    from trading_site.models import Heartbeat

    heartbeat_record(name="platform", detail={"children": {"web": {"running": False}}, "restarts_last_hour": 0})
    Heartbeat.objects.filter(name="platform").update(
        seen_at=clock.now() - dt.timedelta(seconds=settings.HEARTBEAT_MAX_AGE + 1))
    assert "platform" not in health_report()[1]["checks"]


def test_children_are_real_processes_in_the_given_directory(made, tmp_path):
    sup = Supervisor({"pwd": [sys.executable, "-c", "import os; print(os.getcwd())"]}, cwd=tmp_path,
                     write=lambda line: None,
                     spawn=lambda cmd, **kw: subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, **kw))
    sup.start_all()
    out, _ = sup.children["pwd"].proc.communicate(timeout=10)
    assert out.strip() == str(tmp_path)
    sup.stop_all(grace=1)
