"""Risk page: engaging the kill switch needs a reason and the typed word ENGAGE (operator); resetting it
and breakers needs an admin and a reason; both appear in the audit log."""

from __future__ import annotations

import pytest

from console.tests.conftest import buy
from orders.models import Order, Position
from risk.models import CircuitBreaker, KillSwitch
from tests.delivery import stream_deliver
from trading_site.models import ActionLog

pytestmark = pytest.mark.django_db


def _engaged() -> bool:
    return KillSwitch.objects.filter(pk=1, engaged=True).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reason": "drill", "confirm": "engage"}, "Type the word ENGAGE"),
        ({"reason": "drill", "confirm": ""}, "This field is required."),
        ({"reason": "", "confirm": "ENGAGE"}, "A reason is required."),
    ],
)
def test_engage_needs_a_reason_and_the_typed_word(client, operator, market, data, message):
    client.force_login(operator)
    response = client.post("/risk/kill-switch/engage/", data)
    assert response.status_code == 400 and message in response.content.decode()
    assert not _engaged() and ActionLog.objects.count() == 0


def test_operator_engages_admin_resets_both_audited(client, operator, admin_user, market, frozen,
                                                    django_capture_on_commit_callbacks):
    buy("AAPL", "10", actor=operator)
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/risk/kill-switch/engage/", {"reason": "runaway strategy", "confirm": "ENGAGE"})
    assert response.status_code == 302 and _engaged()
    stream_deliver()  # the flatten order's fill arrives over the trade stream
    # the unwind flattened the position through the gateway
    assert Position.objects.get(symbol="AAPL").qty == 0
    assert Order.objects.filter(source="kill_switch", status="filled").count() == 1
    html = client.get("/risk/").content.decode()
    assert 'id="kill-switch-status">ENGAGED' in html
    assert "Reset kill switch" not in html and "Only an admin can reset the kill switch." in html
    # an operator's reset is refused
    assert client.post("/risk/kill-switch/reset/", {"reason": "done"}).status_code == 403
    assert _engaged()
    # an admin resets it
    client.force_login(admin_user)
    assert "Reset kill switch" in client.get("/risk/").content.decode()
    assert client.post("/risk/kill-switch/reset/", {"reason": ""}).status_code == 400 and _engaged()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/risk/kill-switch/reset/", {"reason": "root cause fixed"})
    assert not _engaged()
    rows = list(ActionLog.objects.filter(action__startswith="kill_switch.").order_by("created_at", "pk")
                .values_list("action", "actor__username", "reason"))
    assert rows == [("kill_switch.engage", "operator1", "runaway strategy"),
                    ("kill_switch.reset", "admin1", "root cause fixed")]
    audit = client.get("/audit/?action=kill_switch.").content.decode()
    assert "runaway strategy" in audit and "root cause fixed" in audit


def test_admin_resets_a_tripped_breaker(client, operator, admin_user, market):
    from risk.services import breaker_trip

    breaker_trip(name="daily_loss", reason="equity down 2.1%")
    client.force_login(operator)
    html = client.get("/risk/").content.decode()
    assert "TRIPPED" in html and "equity down 2.1%" in html and "/risk/breakers/daily_loss/reset/" not in html
    assert client.post("/risk/breakers/daily_loss/reset/", {"reason": "x"}).status_code == 403
    client.force_login(admin_user)
    assert "/risk/breakers/daily_loss/reset/" in client.get("/risk/").content.decode()
    client.post("/risk/breakers/daily_loss/reset/", {"reason": "reviewed"})
    assert CircuitBreaker.objects.get(name="daily_loss").state == "closed"
    assert ActionLog.objects.get(action="circuit_breaker.reset").reason == "reviewed"


def test_risk_page_shows_limits_usage_and_rollout(client, viewer, market):
    client.force_login(viewer)
    html = client.get("/risk/").content.decode()
    assert '<th scope="row">Max order notional</th><td class="num">25,000.00</td>' in html
    assert 'id="usage-orders">0 / 60<' in html
    assert "Tiny notional" in html and "No phase set" in html
