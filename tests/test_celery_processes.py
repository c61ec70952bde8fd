"""A real Celery worker and beat, as separate processes, on Redis and the test database."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django_celery_beat.models import PeriodicTask

from tests.processes import celery_command, child_env, log_tail, private_redis_db, running, wait_for
from trading_site.models import Heartbeat
from trading_site.tasks import heartbeat

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_worker_runs_a_task_end_to_end_through_redis(tmp_path):
    queue = f"test-{uuid.uuid4().hex[:8]}"  # private queue: no other consumer can take the message
    commands = {"worker": celery_command("worker", "-Q", queue, "-c", "1", "--pool", "solo", "-l", "INFO")}
    with running(commands, child_env(), tmp_path):
        heartbeat.apply_async(queue=queue)
        try:
            beat = wait_for(lambda: Heartbeat.objects.filter(name="worker").first(), timeout=60, what="worker heartbeat")
        except AssertionError:
            pytest.fail("worker did not run the task:\n" + log_tail(tmp_path, "worker"))
    assert beat.detail["pid"] > 0


def test_beat_schedule_reaches_the_database_scheduler_and_healthz_turns_green(tmp_path):
    # Its own Redis database: the beat publishes on the shared "default" queue name.
    env = child_env(redis_db=private_redis_db(1), HEARTBEAT_MAX_AGE="60")
    commands = {
        "beat": celery_command("beat", "-l", "INFO"),
        "worker": celery_command("worker", "-Q", "default", "-c", "1", "--pool", "solo", "-l", "INFO"),
    }
    client = Client()
    assert client.get("/healthz").status_code == 503  # nothing running yet
    with running(commands, env, tmp_path):
        try:
            wait_for(lambda: PeriodicTask.objects.filter(name="platform-heartbeat").exists(), timeout=60, what="schedule")
            wait_for(lambda: Heartbeat.objects.filter(name="beat").exists(), timeout=60, what="beat heartbeat")
            wait_for(lambda: Heartbeat.objects.filter(name="worker").exists(), timeout=60, what="worker heartbeat")
        except AssertionError as exc:
            pytest.fail(f"{exc}\n--- beat ---\n{log_tail(tmp_path, 'beat')}\n--- worker ---\n{log_tail(tmp_path, 'worker')}")
        entry = PeriodicTask.objects.get(name="platform-heartbeat")
        assert entry.task == "platform.heartbeat"
        assert entry.interval.every == 5 and entry.interval.period == "seconds"
        assert entry.enabled
        response = client.get("/healthz")
    body = response.json()
    assert body["checks"]["worker"]["ok"] and body["checks"]["beat"]["ok"], body
