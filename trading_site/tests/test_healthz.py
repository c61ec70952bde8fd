"""/healthz: JSON status with the five checks; 503 when a dependency is really down."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client

from trading_site.health import heartbeat_record
from trading_site.models import Heartbeat

CHECKS = {"database", "celery_broker", "worker", "beat", "broker"}


@pytest.fixture
def alive(db):
    heartbeat_record(name="worker")
    heartbeat_record(name="beat")
    heartbeat_record(name="trade_stream")  # the production delivery runs a trade-stream process


@pytest.mark.postgres
def test_ok_when_everything_answers(alive):
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) >= CHECKS
    assert body["checks"]["database"] == {"ok": True, "vendor": "postgresql"}
    assert body["checks"]["celery_broker"] == {"ok": True, "transport": "redis"}


def test_stale_worker_heartbeat_is_degraded(alive):
    Heartbeat.objects.filter(name="worker").update(seen_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    response = Client().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["worker"]["ok"] is False
    assert body["checks"]["beat"]["ok"] is True


def test_never_seen_beat_is_degraded(db):
    heartbeat_record(name="worker")
    body = Client().get("/healthz").json()
    assert body["checks"]["beat"] == {"ok": False, "error": "never seen"}


def test_503_when_celery_broker_is_down(alive, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["celery_broker"] == {"ok": False, "transport": "redis", "error": "ConnectionError"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_503_when_database_is_down():
    heartbeat_record(name="worker")
    heartbeat_record(name="beat")
    original_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = "1"  # a real refused connection, not a mock
    try:
        response = Client().get("/healthz")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = original_port
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["worker"]["ok"] is False  # heartbeats live in the database


def test_healthz_is_public_and_get_only(alive):
    assert Client().post("/healthz").status_code == 405
