"""The orders API: create (201/200), bad input (4xx, error shape, nothing stored), reads, cancel, roles."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from orders import pretrade
from orders.models import Fill, Order, OrderEvent, SimOrder

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders/"


def _counts():
    return (Order.objects.count(), OrderEvent.objects.count(), SimOrder.objects.count(), Fill.objects.count())


def _post(client, body, **extra):
    return client.post(URL, data=json.dumps(body) if not isinstance(body, str) else body,
                       content_type="application/json", **extra)


def test_create_then_same_client_order_id_returns_200(aapl, counting_broker, frozen, operator, api_as, deliver):
    client = api_as(operator)
    body = {"symbol": "AAPL", "side": "buy", "qty": "3", "type": "market", "client_order_id": "api-1"}
    first = _post(client, body)
    assert first.status_code == 201, first.json()
    assert (first.json()["status"], first.json()["filled_qty"]) == ("accepted", "0.000000000")  # fills stream in
    deliver()
    data = client.get(f"{URL}{first.json()['id']}/").json()
    assert (data["client_order_id"], data["status"], data["filled_qty"], data["source"]) == ("api-1", "filled", "3.000000000", "api")
    assert data["created_by"] == "operator1"
    again = _post(client, body)
    assert again.status_code == 200 and again.json()["id"] == data["id"]
    assert Order.objects.count() == 1 and counting_broker.submit_calls == 1


def test_limit_order_with_numeric_json_values(aapl, counting_broker, frozen, operator, api_as):
    resp = _post(api_as(operator), {"symbol": "AAPL", "side": "buy", "qty": 2, "type": "limit", "limit_price": 95.5,
                                    "time_in_force": "gtc"})
    assert resp.status_code == 201, resp.json()
    assert (resp.json()["limit_price"], resp.json()["status"], resp.json()["time_in_force"]) == ("95.500000", "accepted", "gtc")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"qty": "0"}, 400, "qty"),
        ({"qty": 0}, 400, "qty"),
        ({"qty": "-1"}, 400, "qty"),
        ({"qty": -1}, 400, "qty"),
        ('{"symbol": "AAPL", "side": "buy", "qty": NaN}', 400, "qty"),
        ('{"symbol": "AAPL", "side": "buy", "qty": 1e309}', 400, "qty"),
        ({"qty": "NaN"}, 400, "qty"),
        ({"qty": "Infinity"}, 400, "qty"),
        ({"qty": True}, 400, "qty"),
        ({"qty": "1.5"}, 400, "qty"),
        ({"symbol": "ZZZZ"}, 400, "symbol"),
        ({"type": "limit"}, 400, "limit_price"),
        ({"type": "limit", "limit_price": "100.001"}, 400, "limit_price"),
        ({"type": "limit", "limit_price": "0.00001"}, 400, "limit_price"),
        ({"type": "limit", "limit_price": "-1"}, 400, "limit_price"),
        ({"side": "short"}, 400, "side"),
        ({"type": "stop"}, 400, "type"),
        ({"quantity": "1"}, 400, "quantity"),
        ({"algo": {"kind": "twap", "slices": 10}}, 400, "algo"),
        ({"client_order_id": "bad id!"}, 400, "client_order_id"),
    ],
)
def test_bad_input_is_4xx_with_error_shape_and_nothing_stored(aapl, counting_broker, operator, api_as, body, status, field):
    if isinstance(body, dict):
        body = {"symbol": "AAPL", "side": "buy", "qty": "1", **body}
    resp = _post(api_as(operator), body)
    assert resp.status_code == status, resp.content
    data = resp.json()
    if data["code"] == "parse_error":  # a bare NaN is not JSON: DRF's strict parser refuses the body
        assert "NaN" in body and data["detail"]
    else:
        assert data["code"] == "validation_error" and data["detail"]
        assert field in data["fields"], data
    assert _counts() == (0, 0, 0, 0) and counting_broker.submit_calls == 0


def test_one_megabyte_body_is_413_and_nothing_stored(aapl, counting_broker, operator, client):
    client.force_login(operator)
    body = json.dumps({"symbol": "AAPL", "side": "buy", "qty": "1", "reason": "x" * (1024 * 1024)})
    resp = client.post(URL, data=body, content_type="application/json")
    assert resp.status_code == 413
    assert resp.json()["code"] == "payload_too_large"
    assert _counts() == (0, 0, 0, 0)


def test_viewer_may_read_but_not_place_or_cancel(aapl, counting_broker, frozen, viewer, operator, api_as):
    resp = _post(api_as(viewer), {"symbol": "AAPL", "side": "buy", "qty": "1"})
    assert resp.status_code == 403 and resp.json()["code"] == "permission_denied"
    assert _counts() == (0, 0, 0, 0)
    order_id = _post(api_as(operator), {"symbol": "AAPL", "side": "buy", "qty": "1", "type": "limit",
                                        "limit_price": "50"}).json()["id"]
    assert api_as(viewer).get(URL).status_code == 200
    assert api_as(viewer).post(f"{URL}{order_id}/cancel/", {}, format="json").status_code == 403
    assert api_as(viewer).post(f"{URL}cancel-all/", {"reason": "x"}, format="json").status_code == 403
    assert Order.objects.get().status == "accepted"


def test_anonymous_is_401(api_client, aapl):
    assert api_client.get(URL).status_code in (401, 403)
    assert api_client.post(URL, {"symbol": "AAPL"}, format="json").status_code in (401, 403)
    assert Order.objects.count() == 0


def test_pretrade_rejection_is_422_with_code(aapl, counting_broker, frozen, operator, api_as):
    def breaker(intent):
        raise pretrade.PreTradeRejection("CIRCUIT_BREAKER_OPEN", "daily loss limit")

    pretrade.register_check("breaker", breaker)
    resp = _post(api_as(operator), {"symbol": "AAPL", "side": "buy", "qty": "1"})
    assert resp.status_code == 422
    assert resp.json() == {"code": "CIRCUIT_BREAKER_OPEN", "detail": "daily loss limit"}
    assert Order.objects.get().status == "rejected" and counting_broker.submit_calls == 0


def test_list_filters_and_pagination(aapl, counting_broker, frozen, operator, viewer, api_as, deliver):
    client = api_as(operator)
    for i in range(3):
        _post(client, {"symbol": "AAPL", "side": "buy", "qty": "1", "client_order_id": f"f-{i}"})
    deliver()  # the three market orders' fills arrive over the stream
    frozen.shift(3600)
    _post(client, {"symbol": "AAPL", "side": "buy", "qty": "1", "type": "limit", "limit_price": "10", "client_order_id": "late"})
    reader = api_as(viewer)
    all_orders = reader.get(URL).json()
    assert all_orders["count"] == 4 and [o["client_order_id"] for o in all_orders["results"]][0] == "late"
    assert reader.get(URL, {"status": "accepted"}).json()["count"] == 1
    assert reader.get(URL, {"symbol": "aapl", "source": "api"}).json()["count"] == 4
    assert reader.get(URL, {"created_after": "2026-03-10T15:30:00Z"}).json()["count"] == 1
    assert reader.get(URL, {"created_before": "2026-03-10T15:30:00Z"}).json()["count"] == 3
    assert reader.get(URL, {"status": "bogus"}).status_code == 400
    assert reader.get(URL, {"page": 2}).status_code == 404


def test_detail_with_fills_and_events(aapl, counting_broker, frozen, operator, api_as, deliver):
    order_id = _post(api_as(operator), {"symbol": "AAPL", "side": "buy", "qty": "2"}).json()["id"]
    deliver()
    data = api_as(operator).get(f"{URL}{order_id}/").json()
    assert [f["qty"] for f in data["fills"]] == ["2.000000000"]
    assert [e["kind"] for e in data["events"]][:2] == ["created", "accepted"]
    assert api_as(operator).get(f"{URL}999999/").status_code == 404


def test_cancel_and_cancel_all(aapl, counting_broker, frozen, operator, api_as, deliver):
    client = api_as(operator)
    a = _post(client, {"symbol": "AAPL", "side": "buy", "qty": "1", "type": "limit", "limit_price": "50"}).json()["id"]
    _post(client, {"symbol": "AAPL", "side": "buy", "qty": "1", "type": "limit", "limit_price": "51"})
    resp = client.post(f"{URL}{a}/cancel/", {"reason": "typo"}, format="json")
    # The cancel is requested; the broker's confirmation arrives over the stream.
    assert resp.status_code == 200 and resp.json()["status"] == "accepted"
    deliver()
    assert client.get(f"{URL}{a}/").json()["status"] == "canceled"
    again = client.post(f"{URL}{a}/cancel/", {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "ORDER_NOT_CANCELABLE"
    assert client.post(f"{URL}cancel-all/", {}, format="json").status_code == 400  # reason required
    resp = client.post(f"{URL}cancel-all/", {"reason": "flat for the night"}, format="json")
    assert resp.json() == {"canceled": 1}
    deliver()
    assert set(Order.objects.values_list("status", flat=True)) == {"canceled"}


def test_positions_and_account(aapl, counting_broker, frozen, operator, viewer, api_as, deliver):
    _post(api_as(operator), {"symbol": "AAPL", "side": "buy", "qty": "10"})
    deliver()
    positions = api_as(viewer).get("/api/v1/positions/").json()
    assert len(positions) == 1
    p = positions[0]
    # bought 10 @ 100.03; last 100.0000 → unrealized 10 × (100 − 100.03) = −0.30
    assert (p["symbol"], p["qty"], p["avg_cost"], p["last_price"], p["unrealized_pnl"]) == (
        "AAPL", "10.000000000", "100.030000", "100.000000", "-0.300000")
    account = api_as(viewer).get("/api/v1/account/").json()
    # 100,000 − 10 × 100.03 = 98,999.70 cash; equity = cash + 10 × 100 = 99,999.70
    assert (D(account["cash"]), D(account["equity"]), account["broker"]) == (D("98999.70"), D("99999.70"), "simulated")


def test_openapi_create_response_is_either_an_order_or_a_twap_parent_detail(api_as, viewer):
    schema = api_as(viewer).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    created = schema["paths"]["/api/v1/orders/"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/OrderCreated"}
    options = {ref["$ref"] for ref in schema["components"]["schemas"]["OrderCreated"]["oneOf"]}
    assert options == {"#/components/schemas/Order", "#/components/schemas/OrderDetail"}


def test_order_output_is_drfs_own_rendering(aapl, sim_broker, frozen, operator):
    """Output serializers render with fields built once per class (PrebuiltFieldsMixin); the result
    must be exactly what DRF renders with per-instance fields, for every kind of order."""
    from rest_framework import serializers as drf

    from orders.api import serializers as s
    from orders.gateway import order_cancel, order_place
    from orders.slicing import twap_order_place

    order_place(symbol="AAPL", side="buy", qty="3", source="api", actor=operator, reason="filled")
    resting = order_place(symbol="AAPL", side="buy", qty="1", order_type="limit", limit_price="50", source="api").order
    order_cancel(order=resting, actor=operator, reason="changed my mind")
    twap_order_place(symbol="AAPL", side="buy", qty="10", slices=5, horizon_minutes="5", actor=operator, source="api")
    assert Order.objects.count() == 8
    for order in Order.objects.all():
        for cls in (s.OrderSerializer, s.OrderDetailSerializer):
            ours = cls(order, context={}).data
            assert ours == drf.Serializer.to_representation(cls(order, context={}), order), (cls.__name__, order.pk)
    many = s.OrderSerializer(Order.objects.all(), many=True).data
    assert [row["id"] for row in many] == list(Order.objects.values_list("pk", flat=True))


def test_create_serializer_shares_fields_but_not_results_across_threads(db):
    """OrderCreateSerializer validates with one field set per class (PrebuiltInputFieldsMixin)."""
    import threading

    from orders.api.serializers import OrderCreateSerializer

    outcomes: dict[int, object] = {}

    def validate(n: int) -> None:
        body = {"symbol": f"S{n}", "side": "buy", "qty": str(n + 1)} if n % 2 else {"symbol": "X", "side": "hold", "qty": "-1"}
        serializer = OrderCreateSerializer(data=body)
        outcomes[n] = serializer.validated_data if serializer.is_valid() else serializer.errors

    threads = [threading.Thread(target=validate, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n, outcome in outcomes.items():
        if n % 2:
            assert (outcome["symbol"], outcome["qty"]) == (f"S{n}", D(n + 1))
        else:
            assert set(outcome) == {"side", "qty"}
    assert OrderCreateSerializer(data={"symbol": "A"}).fields is OrderCreateSerializer(data={}).fields


def test_an_order_whose_outcome_is_unknown_answers_unknown_with_how_to_poll(aapl, sim_broker, frozen, operator,
                                                                             api_as):
    from orders.brokers import use_broker
    from orders.brokers.base import BrokerUnavailable
    from orders.tests.conftest import CountingBroker

    client = api_as(operator)
    lost = CountingBroker(sim_broker, submit_error=BrokerUnavailable("read timeout"))  # sent, answer lost
    with use_broker(lost):
        resp = _post(client, {"symbol": "AAPL", "side": "buy", "qty": "2", "client_order_id": "lost-1"})
    assert resp.status_code == 201
    data = resp.json()
    assert data["status"] == "unknown" and data["status"] != "failed"
    assert data["poll"]["url"] == f"{URL}{data['id']}/" and data["poll"]["after_seconds"] == 5
    assert "Do not resend under a new client_order_id" in data["poll"]["detail"]
    # a resolved order carries no poll hint
    from orders.gateway import order_resolve

    order_resolve(order_id=data["id"])
    again = client.get(f"{URL}{data['id']}/").json()
    assert (again["status"], again["poll"]) == ("filled", None)
