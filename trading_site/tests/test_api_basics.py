"""Token endpoint and the one JSON error shape {"code", "detail", "fields"?}."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from trading_site.models import ApiToken
from trading_site.tokens import key_digest, token_issue


def test_token_round_trip(operator):
    client = APIClient()
    response = client.post("/api/v1/auth/token/", {"username": "operator1", "password": "correct-horse-battery"}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert ApiToken.objects.get(user=operator).key_digest == key_digest(token)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/me/").json() == {"username": "operator1", "role": "operator"}


def test_second_request_under_the_same_name_replaces_the_token(operator):
    client = APIClient()
    body = {"username": "operator1", "password": "correct-horse-battery"}
    first = client.post("/api/v1/auth/token/", body, format="json").json()["token"]
    second = client.post("/api/v1/auth/token/", body, format="json").json()["token"]
    assert second != first
    assert list(ApiToken.objects.filter(user=operator).values_list("key_digest", flat=True)) == [key_digest(second)]


def test_wrong_password(operator):
    response = APIClient().post("/api/v1/auth/token/", {"username": "operator1", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"code": "authentication_failed", "detail": "Unable to log in with the provided credentials."}
    assert ApiToken.objects.count() == 0


def test_missing_fields_name_each_field(db):
    response = APIClient().post("/api/v1/auth/token/", {}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert set(body["fields"]) == {"username", "password"}


def test_bad_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token deadbeef")
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json() == {"code": "authentication_failed", "detail": "Invalid token."}


def test_unknown_api_path_is_json_404(api_as, viewer):
    response = api_as(viewer).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "No such API endpoint."}


def test_viewer_write_is_403_before_method_check(api_as, viewer):
    response = api_as(viewer).delete("/api/v1/me/")
    assert response.status_code == 403
    assert response.json() == {"code": "permission_denied", "detail": "Your role does not allow this."}


def test_method_not_allowed_shape(api_as, operator):
    response = api_as(operator).delete("/api/v1/me/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_malformed_json_is_400(db):
    response = APIClient().post("/api/v1/auth/token/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_oversized_body_is_413(db):
    big = json.dumps({"username": "x" * (1024 * 1024), "password": "y"})
    response = APIClient().post("/api/v1/auth/token/", data=big, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"code": "payload_too_large", "detail": "The request body is too large."}


@pytest.mark.django_db
def test_schema_and_docs_need_login(api_as, viewer):
    assert APIClient().get("/api/schema/").status_code == 401
    response = api_as(viewer).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/v1/auth/token/" in response.json()["paths"]


@pytest.mark.parametrize(
    ("roles_held", "expected"),
    [([], None), (["viewer"], "viewer"), (["viewer", "operator"], "operator"), (["admin", "viewer"], "admin")],
)
@pytest.mark.postgres
def test_token_authentication_loads_user_and_highest_role_in_one_query(db, roles_held, expected,
                                                                         django_assert_num_queries):
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIRequestFactory

    from trading_site.accounts import roles_ensure
    from trading_site.api.authentication import AuditedTokenAuthentication
    from trading_site.lib.roles import user_role

    user = get_user_model().objects.create_user("tok", password="x" * 12)
    groups = roles_ensure()
    user.groups.add(*(groups[r] for r in roles_held))
    issued = token_issue(user=user, name="t")
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {issued.key}")
    with django_assert_num_queries(1):  # the user, the role and the token's last use: one statement
        found, token = AuditedTokenAuthentication().authenticate(request)
        assert user_role(found) == expected  # no second query for the role
    assert (found.pk, found.username, token.pk) == (user.pk, "tok", issued.token.pk)
    assert ApiToken.objects.get().last_used_at is not None


def test_token_of_an_inactive_user_is_refused(operator):
    from rest_framework.test import APIClient

    key = token_issue(user=operator, name="t").key
    operator.is_active = False
    operator.save(update_fields=["is_active"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/v1/orders/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_api_docs_page_loads_swagger_ui_from_our_own_static_files(client, viewer):
    import re

    client.force_login(viewer)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(s.startswith("/static/drf_spectacular_sidecar/swagger-ui-dist/") for s in sources), sources
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))], sources
    assert client.get(next(s for s in sources if s.endswith("swagger-ui-bundle.js"))).status_code == 200
