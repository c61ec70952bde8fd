"""Every page and API endpoint requires login — checked over the whole URL conf.

New URLs are covered automatically: the parameter list is built from the resolver at collection time.
Only the login page (and its TOTP step), /healthz, static files and the token endpoint are public.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

PUBLIC = {
    "/accounts/login/",
    "/accounts/2fa/authenticate/",  # second step of the login when TOTP is on
    "/healthz",
    "/metrics",  # bearer token or network allow-list, checked by the view (test_metrics.py)
    "/api/v1/auth/token/",
}
NON_JSON_API = {"/api/schema/", "/api/docs/"}  # OpenAPI and HTML renderers
SAMPLE = {"int": "1", "str": "sample", "slug": "sample", "uuid": "00000000-0000-0000-0000-000000000001", "path": "x/y"}


def _concrete(pattern: str) -> str | None:
    """Turn a URL pattern into a sample path; None for regex patterns we cannot sample."""
    path = pattern
    path = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE.get(m.group(1) or "str", "sample"), path)
    if path.startswith("^"):
        path = path.lstrip("^").rstrip("$").replace("\\Z", "")
        path = re.sub(r"\(\?P<\w+>[^)]*\)", "1", path)
        path = path.replace("\\.", ".").replace("/?", "/")
        if re.search(r"[\\()\[\]*+?|]", path):
            return None
    return "/" + path


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


def all_paths() -> list[str]:
    paths = set()
    for raw in _walk(get_resolver().url_patterns):
        concrete = _concrete(raw)
        if concrete is not None:
            paths.add(concrete)
    return sorted(paths)


PATHS = all_paths()


def test_the_walk_sees_the_important_urls():
    assert {"/", "/admin/", "/api/v1/me/", "/accounts/logout/"} <= set(PATHS)


@pytest.mark.parametrize("path", [p for p in PATHS if p not in PUBLIC and not p.startswith("/static/")])
@pytest.mark.django_db
def test_anonymous_is_refused(path):
    client = Client()
    for method in ("get", "post"):
        response = getattr(client, method)(path)
        if path.startswith("/api/"):
            assert response.status_code == 401, (method, path, response.status_code)
            if path not in NON_JSON_API:
                assert response.json()["code"] == "not_authenticated"
        elif path.startswith("/admin/"):
            assert response.status_code in (302, 404), (method, path)
            if response.status_code == 302:
                assert "/login/" in response["Location"]
        else:
            assert response.status_code == 302, (method, path, response.status_code)
            assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
def test_metrics_refuses_a_request_without_the_token(monkeypatch):
    from ops import metrics

    monkeypatch.setattr(metrics, "CONFIG", metrics.metrics_config_from_env({"METRICS_TOKEN": "x" * 32}))
    response = Client(REMOTE_ADDR="127.0.0.1").get("/metrics")
    assert response.status_code == 401 and b"trading_" not in response.content


@pytest.mark.django_db
def test_login_page_is_public():
    response = Client().get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="login"' in response.content and b'name="password"' in response.content


@pytest.mark.django_db
def test_signup_is_closed():
    client = Client()
    response = client.get("/accounts/signup/")
    assert response.status_code == 302  # not public at all
