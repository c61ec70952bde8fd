"""Kill switch: durable latch, cache invalidation, roles and reasons, API, command, audit and alerts."""

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command

from risk import services, state
from risk.models import KillSwitch, KillSwitchEvent, RiskEvent
from risk.selectors import kill_switch_engaged
from trading_site.models import ActionLog, Alert

pytestmark = pytest.mark.django_db
URL = "/api/v1/risk/kill-switch/"


def test_latch_requires_reason_and_operator(viewer, operator):
    with pytest.raises(services.RiskInputError):
        services.kill_switch_latch(actor=operator, reason="   ")
    with pytest.raises(services.RiskPermissionDenied):
        services.kill_switch_latch(actor=viewer, reason="panic")
    # nothing changed
    assert not KillSwitch.objects.get(pk=1).engaged
    assert not KillSwitchEvent.objects.exists() and not ActionLog.objects.filter(action__startswith="kill_switch").exists()


def test_engage_latches_records_history_audit_and_alert(operator, django_capture_on_commit_callbacks):
    assert not kill_switch_engaged()  # caches "off"
    with django_capture_on_commit_callbacks(execute=True):
        assert services.kill_switch_latch(actor=operator, reason="broker acting up") is True
    # the cached "off" was dropped after commit: the next read sees the database
    assert kill_switch_engaged()
    row = KillSwitch.objects.get(pk=1)
    assert (row.engaged, row.changed_by, row.reason) == (True, operator, "broker acting up")
    event = KillSwitchEvent.objects.get()
    assert (event.action, event.actor, event.reason, event.data) == (
        "engage", operator, "broker acting up", {"already_engaged": False})
    assert ActionLog.objects.get(action="kill_switch.engage").actor == operator
    assert RiskEvent.objects.filter(kind="kill_switch_engage").count() == 1
    assert Alert.objects.get(metric="kill_switch").severity == "critical"
    # engaging again keeps it engaged and records the second request
    with django_capture_on_commit_callbacks(execute=True):
        assert services.kill_switch_latch(actor=operator, reason="still bad") is False
    assert KillSwitchEvent.objects.count() == 2
    assert KillSwitchEvent.objects.first().data == {"already_engaged": True}


def test_state_is_read_from_the_database_after_the_cache_is_lost(operator, django_capture_on_commit_callbacks):
    # given an engaged switch and an empty cache (a restarted process, or Redis flushed)
    with django_capture_on_commit_callbacks(execute=True):
        services.kill_switch_latch(actor=operator, reason="test")
    cache.clear()
    # then the state is rebuilt from the row
    assert kill_switch_engaged()
    assert cache.get(state.CACHE_KEY).kill_switch_engaged


def test_a_snapshot_read_before_the_engage_committed_is_not_served_after_it(
    operator, monkeypatch, django_capture_on_commit_callbacks
):
    # given a reader that loads the rows (switch off) and, before it stores them, an engage commits
    real_load = state.state_load

    def load_then_engage_commits(**kwargs):
        before = real_load(**kwargs)
        with django_capture_on_commit_callbacks(execute=True):
            services.kill_switch_latch(actor=operator, reason="race")
        return before

    monkeypatch.setattr(state, "state_load", load_then_engage_commits)
    assert not state.risk_state().kill_switch_engaged  # the racing reader got (and cached) the old rows
    monkeypatch.setattr(state, "state_load", real_load)
    assert not cache.get(state.CACHE_KEY).kill_switch_engaged  # the late store happened
    # then the next read does not serve that old snapshot
    assert kill_switch_engaged()
    assert cache.get(state.CACHE_KEY).kill_switch_engaged


def test_reset_is_admin_only_with_reason(operator, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.kill_switch_latch(actor=operator, reason="test")
    with pytest.raises(services.RiskPermissionDenied):
        services.kill_switch_reset(actor=operator, reason="done")
    with pytest.raises(services.RiskInputError):
        services.kill_switch_reset(actor=admin_user, reason="")
    assert kill_switch_engaged()
    with django_capture_on_commit_callbacks(execute=True):
        services.kill_switch_reset(actor=admin_user, reason="incident closed")
    assert not kill_switch_engaged()
    assert ActionLog.objects.get(action="kill_switch.reset").reason == "incident closed"
    reset = KillSwitchEvent.objects.first()
    assert (reset.action, reset.actor, reset.reason, reset.data) == ("reset", admin_user, "incident closed", {})
    assert (KillSwitch.objects.get(pk=1).changed_by, KillSwitch.objects.get(pk=1).reason) == (
        admin_user, "incident closed")
    with pytest.raises(services.RiskStateError):
        services.kill_switch_reset(actor=admin_user, reason="again")


def test_api_engage_operator_reset_forbidden_for_operator_allowed_for_admin(api_as, operator, admin_user, viewer):
    # a viewer cannot engage
    assert api_as(viewer).post(URL, {"action": "engage", "reason": "x"}, format="json").status_code == 403
    # missing reason → 400, nothing changed
    resp = api_as(operator).post(URL, {"action": "engage", "reason": ""}, format="json")
    assert resp.status_code == 400 and resp.json()["code"] == "validation_error"
    assert not KillSwitch.objects.get(pk=1).engaged

    resp = api_as(operator).post(URL, {"action": "engage", "reason": "manual stop", "flatten": False}, format="json")
    assert resp.status_code == 200, resp.content
    assert resp.json()["engaged"] is True and resp.json()["changed"] is True
    assert KillSwitch.objects.get(pk=1).engaged

    resp = api_as(operator).post(URL, {"action": "reset", "reason": "ok now"}, format="json")
    assert resp.status_code == 403 and resp.json()["code"] == "permission_denied"
    assert KillSwitch.objects.get(pk=1).engaged

    resp = api_as(admin_user).post(URL, {"action": "reset", "reason": "ok now"}, format="json")
    assert resp.status_code == 200 and resp.json()["engaged"] is False
    assert not KillSwitch.objects.get(pk=1).engaged


def test_command_engage_status_reset(operator, admin_user, capsys):
    with pytest.raises(CommandError):
        call_command("kill_switch", "engage")  # no reason
    call_command("kill_switch", "engage", "--reason", "from the shell", "--no-flatten")
    assert KillSwitch.objects.get(pk=1).engaged
    call_command("kill_switch", "status")
    assert '"engaged": true' in capsys.readouterr().out
    with pytest.raises(CommandError, match="admin"):
        call_command("kill_switch", "reset", "--reason", "done", "--user", operator.username)
    call_command("kill_switch", "reset", "--reason", "done", "--user", admin_user.username)
    assert not KillSwitch.objects.get(pk=1).engaged
    assert ActionLog.objects.get(action="kill_switch.reset").actor == admin_user
