"""Roles: viewer reads, operator trades and toggles, admin resets and manages users."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIRequestFactory

from trading_site.api.permissions import RoleBasedPermission
from trading_site.lib import roles


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_role_ranking(viewer, operator, admin_user, make_user):
    norole = make_user("nobody", None)
    assert [roles.user_role(u) for u in (viewer, operator, admin_user, norole)] == ["viewer", "operator", "admin", None]
    assert roles.has_role(operator, roles.VIEWER) and roles.has_role(operator, roles.OPERATOR)
    assert not roles.has_role(operator, roles.ADMIN)
    assert not roles.has_role(viewer, roles.OPERATOR)
    assert roles.has_role(admin_user, roles.ADMIN)


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_role_sees_the_dashboard(role, make_user):
    response = login(make_user(f"u-{role}", role)).get("/")
    assert response.status_code == 200
    assert f'<span class="role">{role}</span>'.encode() in response.content


def test_user_without_role_gets_403(make_user):
    response = login(make_user("nobody", None)).get("/")
    assert response.status_code == 403
    assert b"Not allowed" in response.content


def test_admin_menu_only_for_admins(viewer, operator, admin_user):
    assert b'href="/admin/"' not in login(viewer).get("/").content
    assert b'href="/admin/"' not in login(operator).get("/").content
    assert b'href="/admin/"' in login(admin_user).get("/").content


def test_only_admin_role_reaches_the_django_admin(viewer, operator, db):
    from trading_site.accounts import user_create

    admin = user_create(actor=None, username="boss", role="admin", password="correct-horse-battery")
    assert login(admin).get("/admin/auth/user/").status_code == 200
    for user in (viewer, operator):
        assert login(user).get("/admin/auth/user/").status_code == 302  # admin login page


class _View:
    pass


@pytest.mark.parametrize(
    ("role", "method", "view_attrs", "allowed"),
    [
        ("viewer", "GET", {}, True),
        ("viewer", "POST", {}, False),
        ("operator", "POST", {}, True),
        ("operator", "DELETE", {}, True),
        ("operator", "POST", {"write_role": "admin"}, False),
        ("admin", "POST", {"write_role": "admin"}, True),
        ("operator", "GET", {"required_role": "admin"}, False),
        ("admin", "GET", {"required_role": "admin"}, True),
        (None, "GET", {}, False),
    ],
)
def test_api_permission_by_role(role, method, view_attrs, allowed, make_user):
    user = make_user("someone", role)
    request = APIRequestFactory().generic(method, "/api/v1/x/")
    request.user = user
    view = _View()
    for key, value in view_attrs.items():
        setattr(view, key, value)
    assert RoleBasedPermission().has_permission(request, view) is allowed


def test_me_reports_role(api_as, operator):
    response = api_as(operator).get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json() == {"username": "operator1", "role": "operator"}
