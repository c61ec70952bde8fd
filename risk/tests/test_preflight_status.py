"""Preflight checklist and the status API."""

import datetime as dt
import json
import os
from decimal import Decimal

import pytest
from django.core.management import call_command

from risk import preflight, services
from risk.preflight import FAIL, MANUAL, PASS
from trading_site.lib import clock

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)


def _by_key(items):
    return {i.key: i for i in items}


def test_every_reference_section_is_covered_and_manual_items_explain():
    items = preflight.preflight_run(now=NOW)
    assert list(dict.fromkeys(i.section for i in items)) == [
        "Security", "Safety", "Testing", "Monitoring", "Brokerage", "Operations"]
    assert all(i.status in (PASS, FAIL, MANUAL) and i.detail for i in items)
    assert _by_key(items)["broker_2fa"].status == MANUAL


def test_kill_switch_item_needs_a_recent_engage_and_reset(operator, admin_user, django_capture_on_commit_callbacks):
    assert _by_key(preflight.preflight_run(now=NOW))["kill_switch_tested"].status == FAIL
    with django_capture_on_commit_callbacks(execute=True):
        services.kill_switch_latch(actor=operator, reason="monthly drill")
    item = _by_key(preflight.preflight_run())["kill_switch_tested"]
    assert (item.status, item.detail) == (FAIL, "the kill switch is engaged")
    with django_capture_on_commit_callbacks(execute=True):
        services.kill_switch_reset(actor=admin_user, reason="drill done")
    assert _by_key(preflight.preflight_run())["kill_switch_tested"].status == PASS
    # 31 days later the drill is too old
    later = _by_key(preflight.preflight_run(now=clock.now() + dt.timedelta(days=31)))
    assert later["kill_switch_tested"].status == FAIL


def test_automatic_items_check_configuration(settings, tmp_path, viewer, django_capture_on_commit_callbacks):
    from risk import conf

    settings.SECRETS_BACKEND = "vault"
    settings.LOG_FORMAT = "json"
    backup = tmp_path / "db-2026-03-10.dump"
    backup.write_text("x")
    os.utime(backup, (NOW.timestamp() - 3600, NOW.timestamp() - 3600))
    conf.BACKUP_DIR = str(tmp_path)
    try:
        items = _by_key(preflight.preflight_run(now=NOW))
    finally:
        conf.BACKUP_DIR = ""
    assert items["secrets_backend"].status == PASS
    assert items["logs"].status == PASS
    assert (items["backups"].status, items["backups"].detail) == (PASS, f"newest backup 1.0 h old in {tmp_path}")
    assert items["dashboard_credentials"].status == PASS  # a viewer account exists
    assert items["keys_rotated"].status == FAIL  # never rotated
    assert items["breakers"].status == PASS
    with django_capture_on_commit_callbacks(execute=True):
        services.breaker_trip(name="drawdown", reason="test", now=NOW)
    assert _by_key(preflight.preflight_run(now=NOW))["breakers"].detail == "breaker(s) tripped now: drawdown"


def test_live_without_phase_fails_the_rollout_item(settings, admin_user):
    settings.BROKER, settings.ALPACA_PAPER = "alpaca", False
    assert _by_key(preflight.preflight_run(now=NOW))["rollout_phase"].status == FAIL
    services.risk_defaults_ensure()
    services.rollout_phase_set(actor=admin_user, phase=1, reason="go live")
    assert _by_key(preflight.preflight_run(now=NOW))["rollout_phase"].status == PASS


def test_command_json_and_exit_status(capsys):
    with pytest.raises(SystemExit) as info:
        call_command("preflight", "--json")
    assert info.value.code == 1  # fresh test database: automatic items fail
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False
    assert {i["status"] for i in payload["items"]} == {PASS, FAIL, MANUAL}


@pytest.mark.redis  # the rate-usage figures are the shared Redis windows
def test_status_api(api_as, viewer, api_client):
    services.risk_defaults_ensure()
    assert api_client.get("/api/v1/risk/status/").status_code in (401, 403)
    resp = api_as(viewer).get("/api/v1/risk/status/")
    assert resp.status_code == 200
    body = resp.json()
    assert body["kill_switch"]["engaged"] is False
    assert [b["name"] for b in body["breakers"]] == ["daily_loss", "drawdown", "broker_errors", "stale_data"]
    assert body["limits"]["max_order_notional"] == "25000.000000"
    assert body["limits"]["orders_per_minute"] == 60
    assert body["usage"]["orders_last_minute"] == 0
    assert {p["number"] for p in body["rollout"]["phases"]} == {1, 2, 3, 4}
    assert "is_open" in body["market_clock"]


def test_limits_api_admin_only_with_reason_and_validation(api_as, operator, admin_user):
    url = "/api/v1/risk/limits/"
    assert api_as(operator).patch(url, {"reason": "x", "max_order_notional": "1000"}, format="json").status_code == 403
    bad = api_as(admin_user).patch(url, {"reason": "x", "max_order_notional": "-5"}, format="json")
    assert bad.status_code == 400 and "max_order_notional" in bad.json()["fields"]
    no_reason = api_as(admin_user).patch(url, {"max_order_notional": "1000"}, format="json")
    assert no_reason.status_code == 400
    from risk.models import RiskLimits

    assert RiskLimits.objects.get(pk=1).max_order_notional == Decimal("25000")
    ok = api_as(admin_user).patch(url, {"reason": "tighter", "max_order_notional": "1000"}, format="json")
    assert ok.status_code == 200
    assert ok.json()["changed"]["max_order_notional"] == {"old": "25000.000000", "new": "1000.000000"}
    assert RiskLimits.objects.get(pk=1).reason == "tighter"
    # any signed-in user reads the limits: the same values the status API shows
    current = api_as(operator).get(url)
    assert current.status_code == 200
    assert current.json()["max_order_notional"] == "1000.000000" and current.json()["symbol_denylist"] == []
    assert current.json() == api_as(operator).get("/api/v1/risk/status/").json()["limits"]


def test_rollout_and_breaker_reset_api(api_as, operator, admin_user, django_capture_on_commit_callbacks):
    services.risk_defaults_ensure()
    assert api_as(operator).post("/api/v1/risk/rollout/", {"phase": 2, "reason": "x"}, format="json").status_code == 403
    resp = api_as(admin_user).post("/api/v1/risk/rollout/", {"phase": 2, "reason": "phase 1 done"}, format="json")
    assert resp.status_code == 200 and resp.json()["phase"] == 2
    assert api_as(admin_user).post("/api/v1/risk/rollout/", {"phase": 5, "reason": "x"}, format="json").status_code == 400
    phase_url = "/api/v1/risk/rollout/phases/1/"
    assert api_as(operator).patch(phase_url, {"reason": "x", "capital_cap": "100"}, format="json").status_code == 403
    resp = api_as(admin_user).patch(phase_url, {"reason": "start at the low end", "capital_cap": "100",
                                                "symbols": ["spy"]}, format="json")
    assert resp.status_code == 200
    assert [p for p in resp.json()["phases"] if p["number"] == 1][0] == {
        "number": 1, "name": "Tiny notional", "capital_cap": "100.000000", "symbols": ["SPY"]}
    with django_capture_on_commit_callbacks(execute=True):
        services.breaker_trip(name="daily_loss", reason="test", now=NOW)
    url = "/api/v1/risk/breakers/daily_loss/reset/"
    assert api_as(operator).post(url, {"reason": "x"}, format="json").status_code == 403
    assert api_as(admin_user).post(url, {"reason": "reviewed"}, format="json").status_code == 204
    assert api_as(admin_user).post("/api/v1/risk/breakers/nope/reset/", {"reason": "x"}, format="json").status_code == 400
