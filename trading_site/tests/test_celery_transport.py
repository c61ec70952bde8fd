"""The embedded Celery transport never hands a reader a torn message and never stops on a bad file.

kombu's plain filesystem transport let a worker read a message file before it was written (the
worker then died with ``JSONDecodeError``). Here writers in other OS processes publish while this
process consumes as fast as it can: every message arrives whole, exactly once.
"""

from __future__ import annotations

import multiprocessing
import os

import pytest
from kombu import Connection, Exchange, Queue

from trading_site.celery_transport import Transport, folders_prepare, transport_options

TRANSPORT = "trading_site.celery_transport:Transport"


@pytest.fixture(autouse=True)
def _fresh_broker_state():
    # The transport keeps declared bindings per process; each test here uses a new folder.
    Transport.global_state.clear()
    yield
    Transport.global_state.clear()


def _connection(root) -> Connection:
    return Connection("filesystem://", transport=TRANSPORT, transport_options=transport_options(root))


def _publish(root: str, writer: int, count: int) -> None:
    from pathlib import Path

    queue = Queue("q", Exchange("q"), routing_key="q")
    with _connection(Path(root)) as conn:
        producer = conn.Producer()
        for i in range(count):
            # Large enough that a non-atomic write is visible half-done to a fast reader.
            producer.publish({"writer": writer, "i": i, "pad": "x" * 20000}, exchange=queue.exchange,
                             routing_key="q", declare=[queue], serializer="json")


@pytest.mark.slow
def test_concurrent_writers_never_hand_out_a_torn_message(tmp_path):
    folders_prepare(tmp_path)
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_publish, args=(str(tmp_path), w, 150)) for w in range(3)]
    for proc in writers:
        proc.start()
    seen: list[tuple[int, int]] = []
    queue = Queue("q", Exchange("q"), routing_key="q")
    with _connection(tmp_path) as conn:
        simple = conn.SimpleQueue(queue)
        while len(seen) < 450:
            message = simple.get(block=True, timeout=60)
            body = message.payload
            assert body["pad"] == "x" * 20000
            seen.append((body["writer"], body["i"]))
            message.ack()
        simple.close()
    for proc in writers:
        proc.join(30)
        assert proc.exitcode == 0
    assert sorted(seen) == [(w, i) for w in range(3) for i in range(150)]
    assert os.listdir(tmp_path / "queue") == []
    assert os.listdir(tmp_path / "tmp") == []
    assert os.listdir(tmp_path / "rejected") == []


def test_an_undecodable_file_is_set_aside_and_the_next_message_still_arrives(tmp_path, caplog):
    folders_prepare(tmp_path)
    queue = Queue("q", Exchange("q"), routing_key="q")
    with _connection(tmp_path) as conn:
        conn.Producer().publish({"ok": 1}, exchange=queue.exchange, routing_key="q", declare=[queue],
                                serializer="json")
        # Sorts before the good message: a file some other program left half-written.
        (tmp_path / "queue" / "0_broken.q.msg").write_bytes(b'{"body": ')
        simple = conn.SimpleQueue(queue)
        message = simple.get(block=True, timeout=10)
        assert message.payload == {"ok": 1}
        message.ack()
        simple.close()
    assert os.listdir(tmp_path / "rejected") == ["0_broken.q.msg"]
    assert (tmp_path / "rejected" / "0_broken.q.msg").read_bytes() == b'{"body": '
    assert "not valid JSON" in caplog.text


def test_no_folder_is_created_outside_the_transport_root(tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    root = tmp_path / "celery"
    folders_prepare(root)
    queue = Queue("q", Exchange("q"), routing_key="q")
    with _connection(root) as conn:
        conn.Producer().publish({"ok": 1}, exchange=queue.exchange, routing_key="q", declare=[queue])
    assert os.listdir(work) == []
    assert (root / "control" / "q.exchange").exists()
