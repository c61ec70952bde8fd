"""Roles on every console view: viewers read and see no action controls; every action endpoint answers
403 to a viewer's POST and changes nothing; operators cannot reset."""

from __future__ import annotations

import pytest

from orders.models import Order
from risk.models import KillSwitch
from strategies.models import Strategy
from trading_site.lib import clock
from trading_site.models import ActionLog

pytestmark = pytest.mark.django_db

PAGES = ["/", "/partials/figures/", "/orders/", "/strategies/", "/runs/", "/risk/", "/audit/", "/compliance/"]


@pytest.fixture
def world(market):
    from orders.models import Order

    now = clock.now()
    strategy = Strategy.objects.create(name="sma", kind="sma_crossover", parameters={}, created_at=now, updated_at=now)
    order = Order.objects.create(client_order_id="open-1", symbol="AAPL", side="buy", qty=1, status="accepted",
                                 source="api", order_type="limit", limit_price=99, created_at=now, updated_at=now)
    return {"strategy": strategy, "order": order}


def _actions(world) -> list[tuple[str, dict]]:
    sid, oid = world["strategy"].pk, world["order"].pk
    reason = {"reason": "r"}
    return [
        ("/orders/new/", {"symbol": "AAPL", "side": "buy", "qty": "1", "order_type": "market", "time_in_force": "day"}),
        ("/orders/confirm/", {"symbol": "AAPL", "side": "buy", "qty": "1", "order_type": "market",
                              "time_in_force": "day", "client_order_id": "manual-abcdefgh12", **reason}),
        ("/orders/cancel/", {"order_id": oid, **reason}),
        ("/orders/cancel-all/", reason),
        (f"/strategies/{sid}/toggle/", {"enabled": "false", **reason}),
        (f"/strategies/{sid}/symbols/toggle/", {"symbol": "AAPL", "enabled": "false", **reason}),
        ("/risk/kill-switch/engage/", {"confirm": "ENGAGE", **reason}),
        ("/risk/kill-switch/reset/", reason),
        ("/risk/breakers/daily_loss/reset/", reason),
    ]


def _state():
    return (Order.objects.filter(status="accepted").count(), Order.objects.count(), ActionLog.objects.count(),
            KillSwitch.objects.filter(engaged=True).count(), list(Strategy.objects.values_list("enabled", flat=True)))


def test_viewer_reads_every_page_without_action_controls(client, viewer, world):
    client.force_login(viewer)
    for url in PAGES:
        response = client.get(url)
        html = response.content.decode()
        assert response.status_code == 200, url
        assert 'name="reason"' not in html, url
        for control in ("Engage kill switch", "Reset kill switch", "Confirm order", "Cancel all", "/orders/new/",
                        "/toggle/", "/cancel/"):
            assert control not in html, (url, control)
    assert client.get("/orders/new/").status_code == 403


def test_every_action_answers_403_to_a_viewer_and_changes_nothing(client, viewer, world):
    client.force_login(viewer)
    before = _state()
    for url, data in _actions(world):
        response = client.post(url, data)
        assert response.status_code == 403, url
        assert "Not allowed" in response.content.decode()
    assert _state() == before


def test_operator_cannot_reset_but_sees_operator_controls(client, operator, world):
    client.force_login(operator)
    html = client.get("/orders/").content.decode()
    assert "Cancel all open orders" in html and 'href="/orders/new/"' in html
    assert "Engage kill switch" in client.get("/risk/").content.decode()
    for url in ("/risk/kill-switch/reset/", "/risk/breakers/daily_loss/reset/"):
        assert client.post(url, {"reason": "r"}).status_code == 403


def test_anonymous_is_sent_to_login_and_get_on_actions_is_refused(client, operator, world):
    assert client.get("/risk/").status_code == 302
    client.force_login(operator)
    assert client.get("/risk/kill-switch/engage/").status_code == 405
