"""``/metrics``: access (bearer token, else the network allow-list), the exposition format, the
series moving when an order is submitted and when one is refused by a real pre-trade check, and the
Celery task counters (Redis hash, and the Django cache without Redis) fed by real task signals."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from decimal import Decimal as D

import pytest
import time_machine
from celery import signals
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from marketdata.models import Asset, Bar
from ops import metrics
from ops.metrics import Exposition, metrics_config_from_env
from orders.brokers import use_broker
from orders.brokers.simulated import SimulatedBroker
from orders.models import AccountSnapshot, Order
from risk import services as risk_services
from risk.models import RiskEvent
from tests.delivery import stream_deliver
from trading_site.health import heartbeat_record

T0 = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)  # a Tuesday, 11:00 in New York: market open
TOKEN = "s3cret-scrape-token-0123456789"
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$')


def parse(text: str) -> dict[str, float]:
    """Samples of a 0.0.4 exposition as {'name{labels}': value}; asserts the grammar line by line."""
    samples, typed = {}, set()
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in {"counter", "gauge", "histogram", "summary", "untyped"}
            assert name not in typed, f"TYPE twice for {name}"
            typed.add(name)
            continue
        match = SAMPLE_RE.match(line)
        assert match, f"not a sample line: {line!r}"
        family = re.sub(r"_(bucket|sum|count)$", "", match.group(1))
        assert match.group(1) in typed or family in typed, f"sample before its TYPE: {line!r}"
        samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


@pytest.fixture
def config(monkeypatch):
    """``config(**env)`` installs the metrics access configuration built from that environment."""

    def install(**env):
        monkeypatch.setattr(metrics, "CONFIG", metrics_config_from_env(env))

    install()
    return install


# --- access ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_with_a_token_configured_requests_without_it_are_refused(config):
    config(METRICS_TOKEN=TOKEN)
    local = Client(REMOTE_ADDR="127.0.0.1")
    missing = local.get("/metrics")
    wrong = local.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token-at-all-xx")
    basic = local.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}")
    for response in (missing, wrong, basic):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert b"trading_" not in response.content
    ok = Client(REMOTE_ADDR="203.0.113.9").get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert ok.status_code == 200
    assert ok["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "trading_kill_switch_engaged 0" in ok.content.decode()


@pytest.mark.django_db
def test_without_a_token_only_allowed_networks_are_answered(config):
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 403
    config(METRICS_ALLOWED_NETWORKS="10.0.0.0/8, 192.168.1.0/24")
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="::ffff:192.168.1.7").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403


@pytest.mark.django_db
def test_only_get_is_served(config):
    assert Client(REMOTE_ADDR="127.0.0.1").post("/metrics").status_code == 405


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"METRICS_ALLOWED_NETWORKS": "10.0.0.0/8,not-a-net"}, "'not-a-net' is not a network"),
        ({"METRICS_TOKEN": "short"}, "at least 16 characters"),
    ],
)
def test_bad_configuration_is_a_loud_error(env, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        metrics_config_from_env(env)


def test_default_networks_are_loopback_only():
    assert [str(n) for n in metrics_config_from_env({}).networks] == ["127.0.0.1/32", "::1/128"]


# --- format ---------------------------------------------------------------------------------------


def test_exposition_escapes_label_values_and_help():
    out = Exposition()
    out.family("x_total", "counter", "a \\ help\nline", [({"code": 'say "hi"\\\n'}, 3), ({}, D("1.50"))])
    assert out.render() == (
        "# HELP x_total a \\\\ help\\nline\n"
        "# TYPE x_total counter\n"
        'x_total{code="say \\"hi\\"\\\\\\n"} 3\n'
        "x_total 1.50\n"
    )


# --- the series move with real orders -------------------------------------------------------------


def _scrape() -> dict[str, float]:
    response = Client(REMOTE_ADDR="127.0.0.1").get("/metrics")
    assert response.status_code == 200
    return parse(response.content.decode())


def _order(client, qty: str):
    return client.post(
        "/api/v1/orders/",
        data=json.dumps({"symbol": "AAPL", "side": "buy", "qty": qty}),
        content_type="application/json",
    )


@pytest.mark.django_db
def test_counters_move_when_an_order_is_submitted_and_when_one_is_rejected(
    config, risk_only, operator, api_as, django_capture_on_commit_callbacks
):
    asset = Asset.objects.create(symbol="AAPL", name="Apple")
    Bar.objects.create(asset=asset, session=dt.date(2026, 3, 9), open=D(100), high=D(100), low=D(100), close=D(100))
    client = api_as(operator)
    with time_machine.travel(T0, tick=False), use_broker(SimulatedBroker(market_hours="always")) as broker:
        before = _scrape()
        # When an order is submitted and fills ...
        assert _order(client, "3").status_code == 201
        stream_deliver()  # the fill arrives over the trade stream, as in production
        from orders.reconcile import account_snapshot_record

        account_snapshot_record(broker=broker)
        after_fill = _scrape()
        # ... and then the kill switch is engaged (through risk's service) and the next order is refused.
        with django_capture_on_commit_callbacks(execute=True):
            risk_services.kill_switch_engage(actor=operator, reason="metrics drill", flatten=False)
        refused = _order(client, "2")
        assert refused.status_code == 422
        assert refused.json()["code"] == "KILL_SWITCH_ENGAGED"
        after_reject = _scrape()

    assert before.get('trading_orders{status="filled",source="api"}', 0) == 0
    assert before["trading_fills_total"] == 0 and before["trading_kill_switch_engaged"] == 0
    assert 'trading_pretrade_rejections_total{code="KILL_SWITCH_ENGAGED"}' not in before

    assert after_fill['trading_orders{status="filled",source="api"}'] == 1
    assert after_fill["trading_fills_total"] == 1
    # 3 shares bought at 100.00 with no costs: equity unchanged at 100,000.
    assert after_fill["trading_account_equity_dollars"] == 100000.0
    assert after_fill["trading_account_cash_dollars"] == 99700.0

    assert after_reject['trading_orders{status="rejected",source="api"}'] == 1
    assert after_reject['trading_pretrade_rejections_total{code="KILL_SWITCH_ENGAGED"}'] == 1
    assert after_reject["trading_kill_switch_engaged"] == 1
    assert after_reject["trading_fills_total"] == after_fill["trading_fills_total"]
    assert after_reject['trading_alerts_unacknowledged{severity="critical"}'] == 1
    assert Order.objects.filter(reject_code="KILL_SWITCH_ENGAGED").count() == 1


@pytest.mark.django_db
def test_breaker_trips_open_state_and_heartbeat_ages(config, risk_only):
    with time_machine.travel(T0, tick=False):
        heartbeat_record(name="worker")
        risk_services.breaker_trip(name="daily_loss", reason="-2.1% on the day")
    with time_machine.travel(T0 + dt.timedelta(seconds=42), tick=False):
        samples = _scrape()
    assert samples['trading_circuit_breaker_trips_total{breaker="daily_loss"}'] == 1
    assert samples['trading_circuit_breaker_open{breaker="daily_loss"}'] == 1
    assert samples['trading_circuit_breaker_open{breaker="drawdown"}'] == 0
    assert samples['trading_heartbeat_age_seconds{name="worker"}'] == 42.0
    assert RiskEvent.objects.filter(kind="breaker_trip").count() == 1


@pytest.mark.django_db
def test_equity_is_the_latest_snapshot(config):
    AccountSnapshot.objects.create(time=T0, cash=D(1), equity=D("123.45"), buying_power=D(1), broker="simulated")
    AccountSnapshot.objects.create(
        time=T0 - dt.timedelta(hours=1), cash=D(1), equity=D(999), buying_power=D(1), broker="simulated"
    )
    samples = _scrape()
    assert samples["trading_account_equity_dollars"] == 123.45
    assert samples["trading_account_snapshot_timestamp_seconds"] == T0.timestamp()


# --- Celery task counters -------------------------------------------------------------------------


def test_celery_app_connects_the_signal_handlers():
    from trading_site.celery import app

    assert app.conf.broker_url  # configuring the app runs the on_after_configure hook
    uids = {key[0] for key, _ in signals.task_postrun.receivers} | {key[0] for key, _ in signals.task_failure.receivers}
    assert {"trading_metrics_postrun", "trading_metrics_failure"} <= uids
    assert "trading_metrics_prerun" in {key[0] for key, _ in signals.task_prerun.receivers}


def _slow():
    time.sleep(0.3)
    return "ok"


def _boom():
    raise ValueError("boom")


def _tasks():
    """Two tasks on the real Celery app (registered once, under fixed names)."""
    from trading_site.celery import app

    slow = app.tasks.get("tests.metrics.slow") or app.task(name="tests.metrics.slow", shared=False)(_slow)
    boom = app.tasks.get("tests.metrics.boom") or app.task(name="tests.metrics.boom", shared=False)(_boom)
    return slow, boom


def _run_tasks_and_scrape() -> dict[str, float]:
    metrics.celery_signals_connect()
    slow, boom = _tasks()
    slow.apply()
    boom.apply()
    boom.apply()
    return _scrape()


def _assert_task_series(samples: dict[str, float]) -> None:
    assert samples['trading_celery_task_runs_total{task="tests.metrics.slow",state="SUCCESS"}'] == 1
    assert samples['trading_celery_task_runs_total{task="tests.metrics.boom",state="FAILURE"}'] == 2
    assert samples['trading_celery_task_failures_total{task="tests.metrics.boom"}'] == 2
    assert 'trading_celery_task_failures_total{task="tests.metrics.slow"}' not in samples
    # The slow task took ~0.3 s: outside the 0.25 s bucket, inside 0.5 s and every larger one.
    slow = 'trading_celery_task_duration_seconds_bucket{task="tests.metrics.slow",le="%s"}'
    assert samples[slow % "0.25"] == 0 and samples[slow % "0.5"] == 1 and samples[slow % "+Inf"] == 1
    assert samples['trading_celery_task_duration_seconds_count{task="tests.metrics.slow"}'] == 1
    assert 0.3 <= samples['trading_celery_task_duration_seconds_sum{task="tests.metrics.slow"}'] < 0.5
    assert samples['trading_celery_task_duration_seconds_count{task="tests.metrics.boom"}'] == 2


@pytest.mark.django_db
@pytest.mark.redis
def test_task_counters_in_redis(config, settings):
    assert settings.REDIS_URL
    metrics.task_counters_clear()
    try:
        _assert_task_series(_run_tasks_and_scrape())
        assert metrics._redis().hexists(metrics.REDIS_KEY, "failures|tests.metrics.boom")
    finally:
        metrics.task_counters_clear()


@pytest.mark.django_db
def test_task_counters_in_the_django_cache_without_redis(config, settings):
    settings.REDIS_URL = ""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    metrics.task_counters_clear()
    _assert_task_series(_run_tasks_and_scrape())
    assert cache.get(metrics.CACHE_KEY)["failures|tests.metrics.boom"] == 2


@pytest.mark.django_db
def test_a_broken_counter_store_never_fails_the_task(settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    metrics._redis_clients.clear()
    try:
        metrics.celery_signals_connect()
        slow, boom = _tasks()
        assert slow.apply().get() == "ok"
    finally:
        metrics._redis_clients.clear()
    assert "metrics: could not record a task run" in caplog.text


# --- the Grafana dashboard ------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_series_the_grafana_dashboard_queries_is_exposed(config, settings):
    from pathlib import Path

    dashboard = json.loads((Path(settings.BASE_DIR) / "docker" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {re.sub(r"_bucket$", "", name) for e in exprs for name in re.findall(r"\btrading_[a-z_]+", e)}
    AccountSnapshot.objects.create(time=T0, cash=D(1), equity=D(1), buying_power=D(1), broker="simulated")
    text = Client(REMOTE_ADDR="127.0.0.1").get("/metrics").content.decode()
    exposed = set(re.findall(r"^# TYPE (\S+) ", text, flags=re.M))
    assert used and used <= exposed, used - exposed
    assert all(p["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"])


# --- a real worker --------------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_prefork_worker_feeds_the_counters_through_redis(config, tmp_path):
    import uuid

    from tests.processes import celery_command, child_env, log_tail, running, wait_for
    from trading_site.tasks import heartbeat

    metrics.task_counters_clear()
    queue = f"test-{uuid.uuid4().hex[:8]}"  # private queue: no other consumer takes the messages
    commands = {"worker": celery_command("worker", "-Q", queue, "-c", "2", "--pool", "prefork", "-l", "INFO")}
    key = 'trading_celery_task_runs_total{task="platform.heartbeat",state="SUCCESS"}'
    try:
        with running(commands, child_env(), tmp_path):
            for _ in range(3):
                heartbeat.apply_async(queue=queue)
            try:
                wait_for(lambda: _scrape().get(key) == 3, timeout=60, what="three task runs in /metrics")
            except AssertionError:
                pytest.fail("the worker's runs did not reach /metrics:\n" + log_tail(tmp_path, "worker"))
        samples = _scrape()
        assert samples['trading_celery_task_duration_seconds_count{task="platform.heartbeat"}'] == 3
        assert samples['trading_celery_task_duration_seconds_bucket{task="platform.heartbeat",le="+Inf"}'] == 3
        assert 'trading_celery_task_failures_total{task="platform.heartbeat"}' not in samples
        assert samples['trading_heartbeat_age_seconds{name="worker"}'] >= 0
    finally:
        metrics.task_counters_clear()


@pytest.mark.django_db
def test_a_scrape_costs_the_same_queries_however_many_orders(config, django_assert_num_queries):
    """Aggregates, not rows: the query count does not grow with the ledger (one pass over orders)."""
    Order.objects.bulk_create(
        Order(symbol="AAPL", side="buy", qty=D(1), status=status, source="api", reject_code=code,
              client_order_id=f"q{n}", created_at=T0, updated_at=T0)
        for n, (status, code) in enumerate([("accepted", ""), ("rejected", "KILL_SWITCH_ENGAGED"), ("rejected", "X")] * 5)
    )
    with django_assert_num_queries(9):
        samples = _scrape()
    assert samples['trading_orders{status="rejected",source="api"}'] == 10
    assert samples['trading_pretrade_rejections_total{code="KILL_SWITCH_ENGAGED"}'] == 5
