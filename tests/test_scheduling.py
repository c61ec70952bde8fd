"""The xdist scheduler of ``make test`` (tests/scheduling.py), driven as xdist's controller drives it."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests import scheduling

WAITS = ["tests/test_p.py::short_wait", "tests/test_p.py::long_wait", "tests/test_q.py::mid_wait"]
BUSY = [f"app/tests/test_a.py::t{i}" for i in range(6)]
BROWSER = ["tests/browser/test_b.py::page"]
# collection order: the waiting tests are not first, as under pytest-django's ordering
COLLECTION = [BUSY[0], WAITS[0], BUSY[1], WAITS[1], BUSY[2], BUSY[3], WAITS[2], BUSY[4], BUSY[5], BROWSER[0]]


class Config:
    def getoption(self, name):
        assert name == "maxschedchunk"
        return None

    def getvalue(self, name):
        assert name == "tx"
        return ["3*popen"]


class Gateway:
    def __init__(self, name: str) -> None:
        self.id = name


class Node:
    def __init__(self, name: str) -> None:
        self.name = name
        self.gateway = Gateway(name)
        self.sent: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indices) -> None:
        self.sent.extend(indices)

    def shutdown(self) -> None:
        self.shutting_down = True


@pytest.fixture
def sched(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_WAIT_LANES", "1")
    kinds = tmp_path / "kinds.json"
    # as the workers write it: waiting tests longest first
    kinds.write_text(json.dumps({"wait": [WAITS[1], WAITS[2], WAITS[0]], "browser": BROWSER}))
    scheduler = scheduling.LanesScheduling(Config())
    scheduler.kinds_file = kinds
    nodes = [Node("gw0"), Node("gw1"), Node("gw2")]
    for node in nodes:
        scheduler.add_node(node)
    for node in nodes:
        scheduler.add_node_collection(node, COLLECTION)
    scheduler.schedule()
    return scheduler, nodes


def names(nodes_sent: list[int]) -> list[str]:
    return [COLLECTION[i] for i in nodes_sent]


def run_all(scheduler, nodes) -> None:
    """Each node finishes the test it runs, in turn, until every node was told to shut down."""
    done: dict[str, int] = {node.name: 0 for node in nodes}
    for _ in range(len(COLLECTION) + 1):
        if all(node.shutting_down and done[node.name] == len(node.sent) for node in nodes):
            return
        for node in nodes:
            if done[node.name] < len(node.sent):
                scheduler.mark_test_complete(node, node.sent[done[node.name]])
                done[node.name] += 1
    raise AssertionError(f"not every node was shut down: {scheduler.pending} still pending")


def test_the_waiting_lane_starts_on_the_longest_process_tests_and_the_others_on_the_rest(sched):
    scheduler, (waiting, busy1, busy2) = sched
    # each lane starts on the first of its kind; behind the longest process test waits a short test,
    # not the next process test (it would wait for minutes)
    assert names(waiting.sent) == [WAITS[1], BUSY[2]]
    assert names(busy1.sent) == [BUSY[0], BUSY[3]]
    assert names(busy2.sent) == [BUSY[1], BUSY[4]]
    scheduler.mark_test_complete(waiting, waiting.sent[0])  # the long one ends: the next longest follows
    assert names(waiting.sent)[2:] == [WAITS[2]]


def test_every_test_runs_once_and_browser_tests_come_last_on_their_worker(sched):
    scheduler, nodes = sched
    run_all(scheduler, nodes)
    sent = [i for node in nodes for i in node.sent]
    assert sorted(sent) == list(range(len(COLLECTION)))
    for node in nodes:
        kinds = ["browser" if COLLECTION[i] in BROWSER else "other" for i in node.sent]
        assert kinds == sorted(kinds, key=lambda k: k == "browser"), names(node.sent)
    assert scheduler.tests_finished


def test_a_busy_lane_out_of_work_helps_with_the_waiting_tests(sched):
    scheduler, (waiting, busy1, busy2) = sched
    for _ in range(3):  # the busy lanes finish all six busy tests while the waiting lane is on its first
        for node in (busy1, busy2):
            pending = scheduler.node2pending[node]
            if pending:
                scheduler.mark_test_complete(node, pending[0])
    helped = names(busy1.sent) + names(busy2.sent)
    assert WAITS[0] in helped  # the shortest waiting test, left when the waiting lane held two
    assert BROWSER[0] not in helped[:-1]  # nothing after a browser test


def test_a_crashed_worker_s_queued_test_goes_to_another(sched):
    scheduler, (waiting, busy1, busy2) = sched
    crashed = scheduler.remove_node(waiting)
    assert crashed == WAITS[1]  # xdist reports the one it ran as crashed
    run_all(scheduler, [busy1, busy2])
    assert WAITS[2] in names(busy1.sent) + names(busy2.sent)  # the one queued behind it still runs


def test_the_lanes_come_from_the_environment_as_a_whole_number(monkeypatch):
    monkeypatch.setenv("TEST_WAIT_LANES", "2")
    assert scheduling.wait_lanes() == 2
    for bad in ("-1", "1.5", "２", "x"):
        monkeypatch.setenv("TEST_WAIT_LANES", bad)
        with pytest.raises(ImproperlyConfigured, match="TEST_WAIT_LANES"):  # the settings reader's error
            scheduling.wait_lanes()
