"""TWAP with a real Celery worker AND beat on Redis against the test database.

Every scenario ends by counting, per child, the simulated exchange's rows for its client_order_id
(SimOrder — what the broker received) and the dispatcher's claims: exactly one each.

Kept fast and robust on a loaded 2-core machine: horizons of 6-12 s, generous timeouts, polling
instead of sleeps.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import uuid
from decimal import Decimal as D

import pytest
import redis
from django.conf import settings

from marketdata.models import Asset, Bar
from orders.brokers import use_broker
from orders.brokers.simulated import SimulatedBroker
from orders.models import Order, OrderEvent, SimOrder
from orders.slicing import twap_order_place
from tests.processes import celery_command, child_env, log_tail, private_redis_db, running, wait_for
from trading_site.lib import clock

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TIMEOUT = 90


@pytest.fixture(autouse=True)
def always_open(settings):
    settings.SIM_MARKET_HOURS = "always"
    redis.Redis.from_url(_redis_url()).flushdb()  # no messages or cached risk state from a previous test
    with use_broker(SimulatedBroker(market_hours="always")):
        yield


def _redis_url() -> str:
    return settings.REDIS_URL.rsplit("/", 1)[0] + f"/{private_redis_db(0)}"


def _asset(symbol: str, *, price: str, volume: str) -> None:
    asset = Asset.objects.create(symbol=symbol, name=symbol)
    today = clock.now().astimezone(clock.NEW_YORK).date()
    p = D(price)
    Bar.objects.create(asset=asset, session=today, open=p, high=p, low=p, close=p, volume=D(volume))


def _env(**extra: str) -> dict[str, str]:
    base = {"SIM_MARKET_HOURS": "always", "TWAP_SWEEP_GRACE_SECONDS": "3", "ORDERS_UNKNOWN_GRACE_SECONDS": "1",
            "SIM_TICK_EVERY_SECONDS": "2", "PYTHONUNBUFFERED": "1",
            # The children run on their own Redis database (an isolated Celery broker), and the cache
            # lives on the same REDIS_URL, so the test's invalidation of the risk state cannot reach
            # the children's cache: keep their copy short-lived instead.
            "RISK_STATE_CACHE_SECONDS": "0.2"}
    return child_env(redis_db=private_redis_db(0), **(base | extra))


def _worker(name: str) -> list[str]:
    return celery_command("worker", "-Q", "twap,orders", "-c", "1", "--pool", "solo", "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h",
                          "-l", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat")


def _beat() -> list[str]:
    return celery_command("beat", "-l", "INFO")


def _ready(log_dir, *names: str) -> None:
    for name in names:
        wait_for(lambda n=name: "ready." in log_tail(log_dir, n, 400), timeout=TIMEOUT, what=f"{name} ready")


def _parent(*, symbol: str = "AAPL", qty: str = "100", seconds: int = 6, start_in: float = 1.0) -> Order:
    return twap_order_place(
        symbol=symbol, side="buy", qty=qty, slices=6, horizon_minutes=D(seconds) / 60, actor=None, source="api",
        start_time=clock.now() + dt.timedelta(seconds=start_in),
    ).order


def _finished(parent: Order):
    def check():
        parent.refresh_from_db()
        return parent.status in ("filled", "canceled")

    return check


def _dispatch_extra(count: int) -> list[str]:
    """Extra deliveries of the dispatch task on the WORKERS' broker (this process's own broker is the
    run's REDIS_URL, another Redis db: a plain ``apply_async`` would never reach them). Returns the ids."""
    from orders.tasks import twap_dispatch

    app = twap_dispatch.app
    with app.connection_for_write(_redis_url()) as conn:
        producer = app.amqp.Producer(conn)
        return [twap_dispatch.apply_async(queue="twap", producer=producer).id for _ in range(count)]


def _worker_logs(log_dir) -> str:
    return log_tail(log_dir, "worker1", 100_000) + log_tail(log_dir, "worker2", 100_000)


def _fail(tmp_path, exc, *names) -> None:
    logs = "\n".join(f"--- {n} ---\n{log_tail(tmp_path, n, 60)}" for n in names)
    pytest.fail(f"{exc}\n{logs}")


def _exactly_once(parent: Order) -> None:
    for child in parent.children.all():
        sent = SimOrder.objects.filter(client_order_id=child.client_order_id).count()
        claims = OrderEvent.objects.filter(order=child, kind="claimed").count()
        assert (child.slice_num, sent, claims) == (child.slice_num, 1, 1), child


def test_six_slices_complete_once_each_with_the_dispatch_task_delivered_twice(tmp_path):
    _asset("AAPL", price="50", volume="1000000")
    commands = {"beat": _beat(), "worker1": _worker("w1"), "worker2": _worker("w2")}
    with running(commands, _env(), tmp_path):
        try:
            _ready(tmp_path, "worker1", "worker2")
            parent = _parent(seconds=6)
            # extra deliveries of the dispatch task on top of the beat's, racing on two workers
            extra = _dispatch_extra(20)
            wait_for(_finished(parent), timeout=TIMEOUT, what="parent finished")
            wait_for(lambda: all(f"[{task_id}] received" in _worker_logs(tmp_path) for task_id in extra),
                     timeout=TIMEOUT, what="the extra deliveries reached the workers")
        except AssertionError as exc:
            _fail(tmp_path, exc, "beat", "worker1", "worker2")
    children = list(parent.children.order_by("slice_num"))
    assert parent.status == "filled"
    assert [c.status for c in children] == ["filled"] * 6
    assert sum(c.filled_qty for c in children) == D(100)
    _exactly_once(parent)
    lateness = [(c.submitted_at - c.scheduled_time).total_seconds() for c in children]
    assert max(lateness) < 10, lateness  # the accuracy budget is measured in bench/bench_twap.py


def test_kill_switch_engaged_mid_way_blocks_the_remaining_slices(tmp_path):
    from risk.services import kill_switch_latch

    _asset("AAPL", price="50", volume="1000000")
    commands = {"beat": _beat(), "worker": _worker("w")}
    with running(commands, _env(), tmp_path):
        try:
            _ready(tmp_path, "worker")
            parent = _parent(seconds=12)
            wait_for(lambda: SimOrder.objects.count() >= 2, timeout=TIMEOUT, what="two slices sent")
            kill_switch_latch(actor=None, reason="drill: stop the TWAP")  # None: the system
            engaged_at = clock.now()
            wait_for(_finished(parent), timeout=TIMEOUT, what="parent finished")
        except AssertionError as exc:
            _fail(tmp_path, exc, "beat", "worker")
    children = list(parent.children.order_by("slice_num"))
    sent = [c for c in children if SimOrder.objects.filter(client_order_id=c.client_order_id).exists()]
    blocked = [c for c in children if c.reject_code == "KILL_SWITCH_ENGAGED"]
    assert parent.status == "canceled"
    assert len(sent) >= 2 and blocked, [(c.slice_num, c.status, c.reject_code) for c in children]
    assert len(sent) + len(blocked) == 6
    assert all(c.status == "rejected" for c in blocked)
    assert SimOrder.objects.filter(created_at__gt=engaged_at + dt.timedelta(seconds=1)).count() == 0


def test_failed_slice_does_not_stop_the_rest_and_partial_fills_roll_forward(tmp_path):
    # ADV 39,000: 10 shares per evaluation, so slices of 10 at most fill at once and 15s partially;
    # slice 1's broker call always raises (the connection "drops"): unknown → resolver → failed.
    _asset("THIN", price="20", volume="39000")
    commands = {"beat": _beat(), "worker": _worker("w")}
    env = _env(SIM_FAIL_SUBMIT_MATCH=r"-s1$", TWAP_RESEND_MAX="1")
    with running(commands, env, tmp_path):
        try:
            _ready(tmp_path, "worker")
            parent = _parent(symbol="THIN", qty="90", seconds=8)
            wait_for(_finished(parent), timeout=TIMEOUT, what="parent finished")
        except AssertionError as exc:
            _fail(tmp_path, exc, "beat", "worker")
    kids = {c.slice_num: c for c in parent.children.all()}
    assert (kids[1].status, kids[1].reject_code) == ("failed", "NOT_AT_BROKER")
    assert not SimOrder.objects.filter(client_order_id=kids[1].client_order_id).exists()
    assert all(kids[i].filled_qty > 0 for i in (0, 2, 3, 4, 5))
    # a failed slice is never released (it might still reach the broker: ADR 0022): it was sent again
    # under its own id (TWAP_RESEND_MAX=1), failed again, and the parent finished short of its 15
    assert OrderEvent.objects.filter(order=kids[1], kind="resent").count() == 1
    assert sum(c.filled_qty for c in kids.values()) == D(75)
    assert parent.status == "canceled"
    # the other remainders rolled forward (ADR 0022): into a later slice once the broker had confirmed
    # the earlier slice's cancel, or — confirmations arriving over the stream after the last slice —
    # into catch-up children of the parent
    assert (OrderEvent.objects.filter(order__parent_order=parent, kind="rolled_forward").exists()
            or OrderEvent.objects.filter(order=parent, kind="catch_up").exists())


def test_worker_killed_between_claim_and_submit_and_beat_restarted_each_slice_once(tmp_path):
    _asset("AAPL", price="50", volume="1000000")
    env_slow = _env(SIM_LATENCY_MS="5000")  # the broker call sleeps before the exchange records the order
    with running({"beat": _beat(), "worker": _worker("slow")}, env_slow, tmp_path) as procs:
        try:
            _ready(tmp_path, "worker")
            parent = _parent(seconds=8)
            _dispatch_extra(1)
            wait_for(lambda: parent.children.filter(status="submitting").exists(), timeout=TIMEOUT, what="a claim")
            victim = parent.children.get(status="submitting")
            os.kill(procs["worker"].pid, signal.SIGKILL)  # claimed, broker not called yet
            procs["worker"].wait(timeout=30)
        except AssertionError as exc:
            _fail(tmp_path, exc, "beat", "worker")
        # beat goes down mid-schedule too (SIGTERM when the block ends)
    assert not SimOrder.objects.filter(client_order_id=victim.client_order_id).exists()
    restart = tmp_path / "restart"
    restart.mkdir()
    with running({"beat": _beat(), "worker": _worker("fresh")}, _env(), restart):
        try:
            wait_for(_finished(parent), timeout=TIMEOUT, what="parent finished after the restarts")
        except AssertionError as exc:
            _fail(restart, exc, "beat", "worker")
    victim.refresh_from_db()
    assert victim.status == "filled"
    assert victim.events.filter(kind="resent").count() == 1
    assert parent.status == "filled"
    assert sum(c.filled_qty for c in parent.children.all()) == D(100)
    _exactly_once(parent)
