"""The trade-stream loops never exit on a failing pass: they back off, say so once, and recover.

The real outage (a database cut off for 30 s from the real process) is
tests/test_trade_stream_outage_process.py; here the loop's schedule is checked exactly, with a
pass that fails as a lost database connection does.
"""

from __future__ import annotations

import logging
import threading

import pytest
from django.db import OperationalError

from orders.brokers.simulated import SimulatedBroker
from orders.stream import OutageBackoff, OutboxStreamRunner
from trading_site.models import Heartbeat


class RecordingStop(threading.Event):
    """A stop event that records each pause the loop takes and ends the loop after ``passes``."""

    def __init__(self, passes: int) -> None:
        super().__init__()
        self.passes = passes
        self.waits: list[float] = []

    def wait(self, timeout=None):
        self.waits.append(timeout)
        if len(self.waits) >= self.passes:
            self.set()
        return self.is_set()


def test_back_off_doubles_to_its_ceiling_and_logs_one_line_per_outage(caplog):
    backoff = OutageBackoff("loop", first=0.5, most=5.0)
    with caplog.at_level(logging.WARNING, logger="orders.stream"):
        waits = [backoff.failed(OperationalError("server closed the connection")) for _ in range(7)]
        backoff.succeeded()
        backoff.succeeded()
    assert waits == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "loop: OperationalError; retrying with back-off until it works"
    assert caplog.records[0].exc_info is not None
    assert len(messages) == 2 and messages[1].startswith("loop: working again after 7 failed tries")
    assert backoff.failed(OperationalError("again")) == 0.5  # a new outage starts from the first pause


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_outbox_runner_survives_failing_passes_and_writes_its_heartbeat_after(caplog):
    runner = OutboxStreamRunner(SimulatedBroker(market_hours="always", fill_delivery="stream"), poll_seconds=0.1,
                                heartbeat_seconds=5.0)
    original = runner.process
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] <= 4:
            raise OperationalError("could not connect to server")
        return original()

    runner.process = flaky
    stop = RecordingStop(passes=6)
    runner.run_forever(stop)
    assert stop.waits[:4] == [0.1, 0.2, 0.4, 0.8]  # the outage's back-off, then the idle poll
    assert stop.waits[4:] == [0.1, 0.1]
    assert Heartbeat.objects.get(name="trade_stream").detail == {"applied": 0, "broker": "simulated"}
    assert sum("retrying with back-off" in r.getMessage() for r in caplog.records) == 1
