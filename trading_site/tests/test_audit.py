"""django-auditlog records the actor for web requests, DRF token requests and system work."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from celery import shared_task
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from trading_site.audit import SYSTEM_USERNAME, action_record
from trading_site.models import ActionLog
from trading_site.tokens import token_issue


def last_entry_for(obj) -> LogEntry:
    return LogEntry.objects.get_for_object(obj).order_by("-pk").first()


def test_web_request_actor(admin_user):
    group = Group.objects.create(name="desk")
    client = Client()
    client.force_login(admin_user)
    response = client.post(f"/admin/auth/group/{group.pk}/change/", {"name": "desk-renamed", "permissions": []})
    assert response.status_code == 302 and response["Location"] == "/admin/auth/group/", response.content[:500]
    entry = last_entry_for(group)
    assert entry.action == LogEntry.Action.UPDATE
    assert entry.actor == admin_user
    assert entry.changes_dict["name"] == ["desk", "desk-renamed"]


@pytest.mark.urls("tests.urls_audit")
def test_token_api_request_actor(operator):
    group = Group.objects.create(name="alpha")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=operator, name='t').key}")
    response = client.post(f"/api/v1/test/groups/{group.pk}/rename/", {"name": "beta"}, format="json")
    assert response.status_code == 200
    entry = last_entry_for(group)
    assert entry.actor == operator
    assert entry.changes_dict["name"] == ["alpha", "beta"]


def test_management_command_actor_is_system(db, monkeypatch):
    monkeypatch.setenv("NEW_USER_PW", "a-long-enough-passphrase")
    call_command("create_user", "carol", "--role", "operator", "--password-env", "NEW_USER_PW")
    from django.contrib.auth import get_user_model

    carol = get_user_model().objects.get(username="carol")
    entry = LogEntry.objects.get_for_object(carol).filter(action=LogEntry.Action.CREATE).get()
    assert entry.actor.username == SYSTEM_USERNAME
    assert "password" not in entry.changes_dict
    action = ActionLog.objects.get(action="user.create")
    assert action.actor.username == SYSTEM_USERNAME and action.data == {"role": "operator"}


@shared_task(name="tests.rename_group")
def rename_group_task(pk: int, name: str) -> None:
    group = Group.objects.get(pk=pk)
    group.name = name
    group.save()


def test_celery_task_actor_is_system(db):
    group = Group.objects.create(name="gamma")
    rename_group_task.apply(kwargs={"pk": group.pk, "name": "delta"})
    entry = last_entry_for(group)
    assert entry.actor.username == SYSTEM_USERNAME


def test_action_record_fields(operator):
    group = Group.objects.create(name="epsilon")
    record = action_record(actor=operator, action="test.touch", target=group, reason="because", data={"k": 1})
    assert (record.actor, record.action, record.object_type, record.object_id, record.reason, record.data) == (
        operator, "test.touch", "auth.group", str(group.pk), "because", {"k": 1}
    )


def test_action_record_without_actor_is_system(db):
    record = action_record(actor=None, action="test.system")
    assert record.actor.username == SYSTEM_USERNAME
    assert not record.actor.is_active  # the system user cannot log in
    assert not record.actor.has_usable_password()


def test_system_actor_does_not_leak_after_the_block(db):
    from auditlog.context import auditlog_value

    from trading_site.audit import system_actor

    before = auditlog_value.get(None)
    with system_actor():
        assert auditlog_value.get()["actor"].username == SYSTEM_USERNAME
    assert auditlog_value.get(None) is before


def test_action_log_is_read_only_in_the_admin_even_for_a_superuser(admin_user):
    row = action_record(actor=admin_user, action="test.read_only", reason="original")
    client = Client()
    client.force_login(admin_user)
    assert client.get("/admin/trading_site/actionlog/").status_code == 200
    assert client.get("/admin/trading_site/actionlog/add/").status_code == 403
    assert client.post(f"/admin/trading_site/actionlog/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    client.post(f"/admin/trading_site/actionlog/{row.pk}/change/", {"reason": "rewritten"})
    row.refresh_from_db()
    assert row.reason == "original"
    assert ActionLog.objects.filter(pk=row.pk).exists()
