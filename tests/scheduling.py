"""How ``make test`` shares the suite between its xdist workers: waiting lanes and busy lanes.

The process tests (marker ``worker``) spend most of their time waiting on the processes they start:
a demo trading day that lasts a wall-clock minute, a platform child killed and restarted, a broker
that hangs for 10 s. The other tests keep a core busy. xdist's ``--dist load`` hands the suite out in
consecutive chunks, so one worker got every process test and ran them one after another (13 of a
run's 14 minutes) while the machine's other core did the rest, and then both idled.

Here the first ``WAIT_LANES`` workers take the process tests, longest first (``slow(seconds=N)``
hints), and the other workers the rest in collection order; a worker out of its own kind helps with
the other, and the browser tests come last for everyone (Playwright keeps an event loop in a worker
from its first browser test on: see the root conftest). ``make test`` runs one worker more than
the cores for each waiting lane (``TEST_WAIT_LANES`` in the Makefile).

The scheduler runs in the xdist controller, which sees node ids only; the workers, which see the
markers, write the kinds of the tests they collected to ``KINDS_FILE`` before they report their
collection (every worker collects the same tests, so the file is the same whoever wrote it last).
"""

from __future__ import annotations

import json
import os
from collections import deque
from pathlib import Path

from xdist.scheduler import LoadScheduling

from trading_site.lib.env import env_int

ROOT = Path(__file__).resolve().parents[1]
KINDS_FILE = ROOT / "var" / "test" / "xdist-kinds.json"
WAIT, BUSY, BROWSER = "wait", "busy", "browser"


def wait_lanes() -> int:
    """How many workers start on the process tests (``TEST_WAIT_LANES``, default 0: plain load)."""
    return env_int("TEST_WAIT_LANES", 0, low=0)


def expected_seconds(item) -> float:
    marker = item.get_closest_marker("slow")
    return float(marker.kwargs.get("seconds", 0)) if marker is not None else 0.0


def kinds_write(items, *, is_browser, is_process) -> None:
    """Worker side: each collected test's kind, process tests longest first."""
    waiting = sorted((i for i in items if is_process(i) and not is_browser(i)), key=expected_seconds, reverse=True)
    kinds = {WAIT: [i.nodeid for i in waiting], BROWSER: [i.nodeid for i in items if is_browser(i)]}
    KINDS_FILE.parent.mkdir(parents=True, exist_ok=True)
    temporary = KINDS_FILE.with_name(f"{KINDS_FILE.name}.{os.getpid()}")
    temporary.write_text(json.dumps(kinds))
    temporary.replace(KINDS_FILE)


def kinds_clear() -> None:
    """Controller side, before the workers start: no kinds from an earlier run."""
    KINDS_FILE.unlink(missing_ok=True)


class LanesScheduling(LoadScheduling):
    """``--dist load`` with waiting lanes (module docstring). Each worker holds at most two tests, the
    one it runs and the next (xdist needs the next to decide fixture teardown), so a long test never
    has more than one test queued behind it, and that one is a short one (``_take``)."""

    kinds_file = KINDS_FILE

    def __init__(self, config, log=None) -> None:
        super().__init__(config, log)
        self.lanes = wait_lanes()
        self.queues: dict[str, deque[int]] = {}
        self.kind: dict[int, str] = {}

    def _preferences(self, node) -> tuple[str, ...]:
        waiting_lane = self.nodes.index(node) < self.lanes
        return (WAIT, BUSY, BROWSER) if waiting_lane else (BUSY, WAIT, BROWSER)

    def _take(self, node) -> int | None:
        """The next test for ``node``: by its lane's preference; but behind a process test it is about to
        run for minutes, the cheapest test there is (a busy one, else the shortest process test), since
        that one waits until the long one ends. Browser tests only when nothing else is left."""
        pending = self.node2pending[node]
        if pending and self.kind[pending[-1]] == WAIT:
            choices = ((BUSY, False), (WAIT, True), (BROWSER, False))
        else:
            choices = tuple((kind, False) for kind in self._preferences(node))
        for kind, shortest in choices:
            queue = self.queues[kind]
            if queue:
                return queue.pop() if shortest else queue.popleft()
        return None

    def _send(self, node, index: int) -> None:
        self.pending.remove(index)
        self.node2pending[node].append(index)
        node.send_runtest_some([index])

    def _fill(self, node) -> None:
        while len(self.node2pending[node]) < 2:
            index = self._take(node)
            if index is None:
                break
            self._send(node, index)

    def schedule(self) -> None:
        assert self.collection_is_completed
        if self.collection is not None:
            for node in self.nodes:
                self.check_schedule(node)
            return
        if not self._check_nodes_have_same_collection():
            self.log("**Different tests collected, aborting run**")
            return
        self.collection = next(iter(self.node2collection.values()))
        kinds = json.loads(self.kinds_file.read_text()) if self.kinds_file.exists() else {WAIT: [], BROWSER: []}
        position = {nodeid: i for i, nodeid in enumerate(self.collection)}
        waiting = [position[n] for n in kinds[WAIT] if n in position]
        browser = {position[n] for n in kinds[BROWSER] if n in position}
        taken = set(waiting) | browser
        self.queues = {
            WAIT: deque(waiting),
            BUSY: deque(i for i in range(len(self.collection)) if i not in taken),
            BROWSER: deque(sorted(browser)),
        }
        self.kind = {i: kind for kind, queue in self.queues.items() for i in queue}
        self.pending[:] = [*self.queues[WAIT], *self.queues[BUSY], *self.queues[BROWSER]]
        for _ in range(2):  # breadth first: every lane starts on its own kind's first test
            for node in self.nodes:
                index = self._take(node)
                if index is not None:
                    self._send(node, index)
        if not self.pending:
            for node in self.nodes:
                node.shutdown()

    def check_schedule(self, node, duration: float = 0) -> None:
        if node.shutting_down:
            return
        if self.pending:
            self._fill(node)
        else:
            node.shutdown()

    def remove_node(self, node):
        """A crashed worker: the test it ran is reported by xdist, the one queued behind it goes back to
        the front of its queue."""
        pending = self.node2pending.pop(node)
        if not pending:
            return None
        crashed = self.collection[pending.pop(0)]
        for index in reversed(pending):
            self.pending.append(index)
            self.queues[self.kind[index]].appendleft(index)
        for other in self.node2pending:
            self.check_schedule(other)
        return crashed
