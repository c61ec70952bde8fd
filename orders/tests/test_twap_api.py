"""POST /api/v1/orders/ with "algo": a TWAP parent (201/200), its detail (aggregate, children, TCA), bad input."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from orders.models import Order, OrderEvent, SimOrder
from orders.slicing import slices_dispatch_due

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders/"


def _post(client, body):
    return client.post(URL, data=json.dumps(body), content_type="application/json")


def _counts():
    return Order.objects.count(), OrderEvent.objects.count(), SimOrder.objects.count()


def test_twap_create_returns_parent_with_children_aggregate_and_tca(aapl, sim_broker, frozen, operator, api_as,
                                                                    deliver):
    client = api_as(operator)
    body = {"symbol": "AAPL", "side": "buy", "qty": "100", "client_order_id": "twap-api-1", "reason": "big buy",
            "algo": {"type": "twap", "slices": 6, "horizon_minutes": 30}}
    resp = _post(client, body)
    assert resp.status_code == 201, resp.json()
    data = resp.json()
    assert (data["client_order_id"], data["status"], data["total_slices"]) == ("twap-api-1", "scheduled", 6)
    assert [c["qty"] for c in data["children"]] == ["17.000000000"] * 4 + ["16.000000000"] * 2
    assert data["children"][1]["client_order_id"] == "twap-api-1-s1"
    assert data["aggregate"] == {"aggregated_status": "pending", "total_slices": 6, "slices_submitted": 0,
                                 "filled_qty": "0.000000000", "avg_fill_price": None}
    assert data["tca"]["arrival_price"] == "100.000000" and data["tca"]["shortfall_bps"] is None
    again = _post(client, body)
    assert again.status_code == 200 and again.json()["id"] == data["id"]
    assert Order.objects.count() == 7

    slices_dispatch_due()  # slice 0 is due now: 17 filled at 100.03 (delivered over the stream)
    deliver()
    detail = client.get(f"{URL}{data['id']}/").json()
    assert detail["aggregate"]["aggregated_status"] == "pending"
    assert detail["aggregate"]["slices_submitted"] == 1
    assert (detail["aggregate"]["filled_qty"], detail["aggregate"]["avg_fill_price"]) == ("17.000000000", "100.030000")
    assert detail["tca"]["shortfall_bps"] == "3.00"
    ordinary = client.get(f"{URL}{detail['children'][0]['id']}/").json()
    assert ordinary["aggregate"] is None and ordinary["children"] is None and ordinary["tca"] is None


@pytest.mark.parametrize(
    ("algo", "field"),
    [
        ({"type": "twap", "slices": 0, "horizon_minutes": 30}, "algo"),
        ({"type": "twap", "slices": -1, "horizon_minutes": 30}, "algo"),
        ({"type": "twap", "slices": 1001, "horizon_minutes": 30}, "algo"),
        ({"type": "twap", "slices": 6, "horizon_minutes": 0}, "algo"),
        ({"type": "twap", "slices": 6, "horizon_minutes": -5}, "algo"),
        ({"type": "twap", "slices": 6, "horizon_minutes": 30, "start_time": "2026-03-10T14:00:00Z"}, "start_time"),
        ({"type": "twap", "slices": 6, "horizon_minutes": 600}, "horizon_minutes"),
        ({"type": "vwap", "slices": 6, "horizon_minutes": 30}, "algo"),
    ],
)
def test_bad_twap_input_is_4xx_and_nothing_stored(aapl, sim_broker, frozen, operator, api_as, algo, field):
    resp = _post(api_as(operator), {"symbol": "AAPL", "side": "buy", "qty": "100", "algo": algo})
    assert resp.status_code == 400, resp.content
    body = resp.json()
    assert body["code"] == "validation_error" and field in body["fields"], body
    assert _counts() == (0, 0, 0)


def test_twap_with_extended_hours_or_gtc_is_4xx(aapl, sim_broker, frozen, operator, api_as):
    algo = {"type": "twap", "slices": 3, "horizon_minutes": 30}
    for extra in ({"extended_hours": True}, {"time_in_force": "gtc"}):
        resp = _post(api_as(operator), {"symbol": "AAPL", "side": "buy", "qty": "9", "algo": algo, **extra})
        assert resp.status_code == 400 and "algo" in resp.json()["fields"]
    assert _counts() == (0, 0, 0)


def test_twap_qty_below_minimum_lot_is_4xx(db, sim_broker, frozen, operator, api_as):
    from orders.tests.conftest import make_asset

    asset = make_asset("BRK", price="500")
    asset.min_lot = D(10)
    asset.save()
    resp = _post(api_as(operator), {"symbol": "BRK", "side": "buy", "qty": "5",
                                    "algo": {"type": "twap", "slices": 3, "horizon_minutes": 30}})
    assert resp.status_code == 400 and "qty" in resp.json()["fields"]
    assert _counts() == (0, 0, 0)
