"""Issue 20's acceptance: the token door, strict numbers, the five former 500s, token lifecycle,
CSV formula neutralisation, /healthz for anonymous callers, ALLOWED_HOSTS=* in production."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from marketdata.models import Asset
from orders.models import Order
from risk.models import PositionRisk
from tax.models import TaxLot
from trading_site.accounts import user_set_role
from trading_site.lib.csvsafe import csv_cell, csv_writer
from trading_site.models import ActionLog, ApiToken
from trading_site.tests.test_settings import PROD_KEY, load
from trading_site.tokens import token_issue

PASSWORD = "correct-horse-battery"
BAD_QTYS = ["1_0", "１", "٣", " 1", "1e3", "0x10"]


def token_request(client: APIClient, password: str, ip: str):
    return client.post("/api/v1/auth/token/", {"username": "operator1", "password": password},
                       format="json", HTTP_X_FORWARDED_FOR=ip)


# --- the token door ------------------------------------------------------------------------------


def test_token_endpoint_locks_out_guessing_with_rotating_forwarded_for(operator):
    cache.clear()
    client = APIClient()
    statuses = [token_request(client, f"wrong-{i}", f"198.51.100.{i}").status_code for i in range(100)]
    # LOGIN_RATE_LIMIT's per-account limit (5 per 5 minutes): the 6th attempt is refused, whatever
    # X-Forwarded-For says (NUM_PROXIES=0: the header is not the client's address); from the 21st,
    # the endpoint's own throttle (20 a minute per client address) refuses before authenticating.
    assert statuses[:5] == [400] * 5
    assert set(statuses[5:]) == {429}
    assert token_request(client, "wrong", "198.51.100.200").json()["code"] == "throttled"
    assert ActionLog.objects.filter(action="login.failed").count() == 5
    assert ActionLog.objects.filter(action="api_token.refused").count() == 15
    start = dt.datetime.now(dt.UTC)
    # A minute later the per-address throttle has passed, the account is still locked: the right
    # password gets no token, until the lockout ends.
    with time_machine.travel(start + dt.timedelta(seconds=70), tick=False):
        response = token_request(client, PASSWORD, "203.0.113.9")
    assert response.status_code == 429
    assert response.json() == {"code": "too_many_login_attempts",
                               "detail": "Too many failed log-in attempts: try again later."}
    assert ApiToken.objects.count() == 0
    with time_machine.travel(start + dt.timedelta(minutes=6), tick=False):
        response = token_request(client, PASSWORD, "203.0.113.9")
    assert response.status_code == 200
    assert ApiToken.objects.count() == 1
    cache.clear()


def test_console_login_failures_are_audited(operator):
    cache.clear()
    Client().post("/accounts/login/", {"login": "operator1", "password": "nope"})
    row = ActionLog.objects.get(action="login.failed")
    assert row.data["username"] == "operator1" and row.data["ip"] == "127.0.0.1"
    cache.clear()


# --- token lifecycle -----------------------------------------------------------------------------


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_several_named_tokens_listed_with_last_use_and_revoked_by_delete(operator, viewer):
    cache.clear()
    client = APIClient()
    ci = client.post("/api/v1/auth/token/", {"username": "operator1", "password": PASSWORD, "name": "ci",
                                              "expires_in_days": 7}, format="json").json()
    laptop = client.post("/api/v1/auth/token/", {"username": "operator1", "password": PASSWORD, "name": "laptop"},
                         format="json").json()
    assert ci["name"] == "ci" and laptop["name"] == "laptop" and ci["token"] != laptop["token"]
    assert _client(ci["token"]).get("/api/v1/me/").status_code == 200
    listed = _client(laptop["token"]).get("/api/v1/auth/tokens/").json()
    assert [t["name"] for t in listed] == ["laptop", "ci"]
    assert "token" not in listed[0]
    by_name = {t["name"]: t for t in listed}
    assert by_name["ci"]["last_used_at"] is not None  # used for /me/ above
    # Someone else's token: 404, and it still works.
    other = token_issue(user=viewer, name="v")
    assert _client(ci["token"]).delete(f"/api/v1/auth/tokens/{other.token.pk}/").status_code == 404
    assert _client(other.key).get("/api/v1/me/").status_code == 200
    # Revoke your own: it stops working at once; the other one goes on.
    assert _client(laptop["token"]).delete(f"/api/v1/auth/tokens/{ci['id']}/").status_code == 204
    assert _client(ci["token"]).get("/api/v1/me/").status_code == 401
    assert _client(laptop["token"]).get("/api/v1/me/").status_code == 200
    assert ActionLog.objects.filter(action="api_token.revoke", actor=operator).count() == 1
    cache.clear()


def test_token_does_not_survive_a_password_change(operator):
    key = token_issue(user=operator, name="t").key
    assert _client(key).get("/api/v1/me/").status_code == 200
    operator.set_password("another-long-passphrase")
    operator.save()
    response = _client(key).get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_token_does_not_survive_a_role_removal(operator, admin_user):
    key = token_issue(user=operator, name="t").key
    operator.groups.clear()  # as the admin's user page does
    assert _client(key).get("/api/v1/me/").status_code == 401
    key = token_issue(user=operator, name="t2").key
    user_set_role(actor=admin_user, user=operator, role="viewer")
    assert _client(key).get("/api/v1/me/").status_code == 401
    assert not ApiToken.objects.filter(user=operator).exists()


def test_expired_token_gets_401(operator):
    key = token_issue(user=operator, name="t", ttl_days=1).key
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=1, seconds=1), tick=False):
        response = _client(key).get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json() == {"code": "authentication_failed", "detail": "Token expired."}


# --- one strict number parser --------------------------------------------------------------------


@pytest.fixture
def aapl(db):
    return Asset.objects.create(symbol="AAPL", name="Apple", fractionable=True, tradable=True)


@pytest.mark.parametrize("qty", BAD_QTYS)
def test_bad_quantity_is_400_naming_qty_in_the_api(operator, aapl, qty):
    response = _client(token_issue(user=operator, name="t").key).post(
        "/api/v1/orders/", {"symbol": "AAPL", "side": "buy", "qty": qty, "type": "market"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error" and list(body["fields"]) == ["qty"]
    assert Order.objects.count() == 0


@pytest.mark.parametrize("qty", BAD_QTYS)
def test_bad_quantity_is_400_naming_qty_in_the_console_form(operator, aapl, qty):
    client = Client()
    client.force_login(operator)
    response = client.post("/orders/new/", {"symbol": "AAPL", "side": "buy", "qty": qty, "order_type": "market",
                                            "time_in_force": "day"})
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["qty"]
    assert Order.objects.count() == 0


@pytest.mark.parametrize("qty", BAD_QTYS)
def test_bad_quantity_is_refused_naming_qty_in_tax_import(db, tmp_path, qty):
    path = tmp_path / "trades.csv"
    path.write_text(f"date,side,symbol,qty,price,trade_id\n2024-01-02,buy,AAPL,{qty},100,t1\n")
    with pytest.raises(CommandError, match=r"line 2: qty must be a number: plain ASCII digits"):
        call_command("tax_import", "--trades", str(path), stdout=io.StringIO())
    assert TaxLot.objects.count() == 0


def test_tax_import_refuses_a_trade_dated_2999(db, tmp_path):
    path = tmp_path / "trades.csv"
    path.write_text("date,side,symbol,qty,price,trade_id\n2999-01-02,buy,AAPL,1,100,t1\n")
    with pytest.raises(CommandError, match=r"line 2: date must be between 1990-01-01 and"):
        call_command("tax_import", "--trades", str(path), stdout=io.StringIO())
    assert TaxLot.objects.count() == 0


# --- the five former 500s: 4xx in the project's error shape --------------------------------------


def _shape(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) <= {"code", "detail", "fields"} and body["code"] and body["detail"]
    return body


def test_17_character_symbol_on_position_stops_is_400(operator, aapl):
    client = _client(token_issue(user=operator, name="t").key)
    body = _shape(client.put("/api/v1/risk/positions/ABCDEFGHIJKLMNOPQ/stops/",
                             {"reason": "r", "stop_loss_pct": "0.1"}, format="json"))
    assert body["fields"] == {"symbol": ["Unknown symbol."]}
    body = _shape(client.put("/api/v1/risk/positions/ZZZZ/stops/", {"reason": "r"}, format="json"))
    assert body["fields"] == {"symbol": ["Unknown symbol."]}
    assert PositionRisk.objects.count() == 0
    assert client.put("/api/v1/risk/positions/AAPL/stops/", {"reason": "r", "stop_loss_pct": "0.1"},
                      format="json").status_code == 200


def test_huge_numbers_on_wash_sale_preview_are_400(viewer):
    client = _client(token_issue(user=viewer, name="t").key)
    body = _shape(client.post("/api/v1/tax/wash-sale-preview/",
                              {"symbol": "AAPL", "side": "sell", "qty": "99999999999", "price": "99999999999999"},
                              format="json"))
    assert set(body["fields"]) == {"qty", "price"}
    body = _shape(client.post("/api/v1/tax/wash-sale-preview/",
                              {"symbol": "AAPL", "side": "sell", "qty": "1e3", "price": "1"}, format="json"))
    assert set(body["fields"]) == {"qty"}


def test_performance_from_year_1_to_9999_is_400(viewer):
    client = _client(token_issue(user=viewer, name="t").key)
    body = _shape(client.get("/api/v1/performance/?start=0001-01-01&end=9999-12-31"))
    assert set(body["fields"]) == {"start", "end"}


def test_allocation_preview_as_of_year_1_is_400(viewer):
    client = _client(token_issue(user=viewer, name="t").key)
    body = _shape(client.post("/api/v1/allocations/preview/", {"method": "equal_weight", "as_of": "0001-01-01"},
                              format="json"))
    assert list(body["fields"]) == ["as_of"]


@pytest.mark.parametrize("start", ["9999-12-31T15:00:00Z", "2099-01-05T15:00:00Z"])
def test_twap_start_time_9999_is_400(operator, aapl, start):
    client = _client(token_issue(user=operator, name="t").key)
    body = _shape(client.post("/api/v1/orders/", {
        "symbol": "AAPL", "side": "buy", "qty": "10", "type": "market",
        "algo": {"type": "twap", "slices": 2, "horizon_minutes": "10", "start_time": start},
    }, format="json"))
    assert "start_time" in str(body["fields"])
    assert Order.objects.count() == 0


# --- CSV exports ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "written"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1+2", "'+1+2"), ("-1+2", "'-1+2"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("-12.50", "-12.50"), ("plain", "plain"),
])
def test_csv_cells_with_formula_prefixes_are_neutralised(raw, written):
    assert csv_cell(raw) == written
    out = io.StringIO()
    csv_writer(out).writerow([raw])
    assert next(csv.reader(io.StringIO(out.getvalue())))[0] == written


def test_audit_csv_writes_a_formula_reason_as_text(operator):
    ActionLog.objects.create(created_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC), action="x.y",
                             reason='=HYPERLINK("http://evil/","click")')
    client = Client()
    client.force_login(operator)
    response = client.get("/audit/export.csv?kind=actions")
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][5] == '\'=HYPERLINK("http://evil/","click")'


# --- /healthz and ALLOWED_HOSTS --------------------------------------------------------------------


def test_anonymous_healthz_from_outside_gets_the_status_only(db):
    response = Client(REMOTE_ADDR="203.0.113.7").get("/healthz")
    assert set(response.json()) == {"status"}


def test_healthz_details_for_staff_and_allowed_networks(admin_user):
    assert "checks" in Client().get("/healthz").json()  # 127.0.0.1: in METRICS_ALLOWED_NETWORKS
    client = Client(REMOTE_ADDR="203.0.113.7")
    client.force_login(admin_user)
    assert "checks" in client.get("/healthz").json()


@pytest.mark.slow
def test_production_refuses_a_wildcard_allowed_host():
    env = {"DJANGO_ENV": "production", "SECRET_KEY": PROD_KEY, "ALLOWED_HOSTS": "*",
           "DATABASE_URL": "postgres://u@db/x", "REDIS_URL": "redis://r:6379/0"}
    result = load(env)
    assert result.returncode != 0 and "ALLOWED_HOSTS=* is refused in production" in result.stderr
    result = load(env | {"ALLOWED_HOSTS_ALLOW_WILDCARD": "true"})
    assert result.returncode == 0, result.stderr


def test_admin_lists_tokens_with_their_last_use(admin_user, operator):
    key = token_issue(user=operator, name="ci").key
    _client(key).get("/api/v1/me/")
    client = Client()
    client.force_login(admin_user)
    page = client.get("/admin/trading_site/apitoken/").content.decode()
    assert "ci" in page and "operator1" in page and "Last used at" in page
    assert "key_digest" not in page
