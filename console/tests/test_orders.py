"""Orders: the manual order (form → confirmation with a reason → gateway, audited), refusals that
change nothing, cancel, the list's filters, pagination, TWAP parent progress and its query count."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D

import pytest

from console.tests.conftest import T0, buy, price_set
from orders.models import Order
from tests.delivery import stream_deliver
from trading_site.models import ActionLog

pytestmark = pytest.mark.django_db

ORDER = {"symbol": "aapl", "side": "buy", "qty": "10", "order_type": "market", "limit_price": "", "time_in_force": "day"}


def _confirm_page(client, **changes):
    response = client.post("/orders/new/", ORDER | changes)
    html = response.content.decode()
    match = re.search(r'name="client_order_id" value="([^"]+)"', html)
    return response, html, match.group(1) if match else None


def _state():
    return Order.objects.count(), ActionLog.objects.count()


def test_manual_order_goes_form_confirmation_gateway_and_audit(client, operator, market, frozen):
    client.force_login(operator)
    # step 1: the form shows the confirmation with the estimated notional and the check results
    response, html, coid = _confirm_page(client)
    assert response.status_code == 200 and _state() == (0, 0)
    assert 'id="est-notional">1,000.00<' in html  # 10 × 100
    assert "Risk controls: passed" in html and "No wash sale." in html
    assert '<button type="submit" class="danger">Confirm order</button>' in html
    # step 2: confirm with a reason
    data = ORDER | {"symbol": "AAPL", "client_order_id": coid, "reason": "rebalance by hand"}
    response = client.post("/orders/confirm/", data)
    assert response.status_code == 302 and response["Location"] == "/orders/?symbol=AAPL"
    stream_deliver()  # the fill arrives over the trade stream
    order = Order.objects.get()
    assert (order.source, order.status, order.created_by, order.reason) == ("manual", "filled", operator,
                                                                             "rebalance by hand")
    assert (order.filled_qty, order.avg_fill_price, order.client_order_id) == (D(10), D(100), coid)
    manual = ActionLog.objects.get(action="order.manual")
    assert (manual.actor, manual.reason, manual.object_id) == (operator, "rebalance by hand", str(order.pk))
    # the order is listed and the audit log shows who and why
    assert coid in client.get("/orders/").content.decode()
    audit = client.get("/audit/?action=order.manual").content.decode()
    assert "operator1" in audit and "rebalance by hand" in audit
    # a double submit of the same confirmation is the same order
    client.post("/orders/confirm/", data)
    assert Order.objects.count() == 1 and ActionLog.objects.filter(action="order.manual").count() == 1


def test_confirmation_without_reason_is_refused_and_places_nothing(client, operator, market, frozen):
    client.force_login(operator)
    _, _, coid = _confirm_page(client)
    response = client.post("/orders/confirm/", ORDER | {"client_order_id": coid, "reason": "  "})
    assert response.status_code == 400
    assert "A reason is required." in response.content.decode()
    assert _state() == (0, 0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"qty": "-1"}, "qty"),
        ({"qty": "nan"}, "qty"),
        ({"symbol": "ZZZZ"}, "unknown symbol ZZZZ"),
        ({"order_type": "limit", "limit_price": ""}, "a limit order needs a limit_price"),
        ({"limit_price": "101"}, "a market order takes no limit_price"),
        ({"order_type": "limit", "limit_price": "100.123"}, "sub-penny price"),
        ({"qty": "1.5"}, "AAPL trades in whole shares only"),
    ],
)
def test_bad_order_input_is_shown_and_changes_nothing(client, operator, market, frozen, changes, message):
    client.force_login(operator)
    response, html, coid = _confirm_page(client, **changes)
    assert response.status_code == 400 and coid is None
    assert message in html
    assert _state() == (0, 0)


def test_kill_switch_makes_the_manual_order_fail_visibly(client, operator, market, frozen,
                                                        django_capture_on_commit_callbacks):
    from risk.services import kill_switch_latch

    client.force_login(operator)
    _, _, coid = _confirm_page(client)
    with django_capture_on_commit_callbacks(execute=True):  # the cached risk state is dropped after commit
        kill_switch_latch(actor=operator, reason="drill")
    response = client.post("/orders/confirm/", ORDER | {"client_order_id": coid, "reason": "try anyway"})
    html = response.content.decode()
    assert response.status_code == 422
    assert '<strong class="reject-code">KILL_SWITCH_ENGAGED</strong>' in html
    order = Order.objects.get()
    assert (order.status, order.reject_code) == ("rejected", "KILL_SWITCH_ENGAGED")
    manual = ActionLog.objects.get(action="order.manual")
    assert (manual.reason, manual.data["rejected"]) == ("try anyway", "KILL_SWITCH_ENGAGED")
    # the preview of the next order already shows it
    _, html, _ = _confirm_page(client)
    assert "KILL_SWITCH_ENGAGED" in html


def test_confirmation_warns_of_a_wash_sale(client, operator, market, frozen):
    # given a loss: buy 10 at 100, sell 10 at 90 → −100 realized
    buy("AAPL", "10", actor=operator)
    price_set("AAPL", "90")
    buy("AAPL", "10", actor=operator, side="sell")
    client.force_login(operator)
    _, html, _ = _confirm_page(client)
    assert "<strong>Warning:</strong> Buying 10 AAPL would disallow $100.00 of recent realized loss (wash sale)." in html


def test_operator_cancels_an_open_order_with_a_reason(client, operator, market, frozen):
    from orders.gateway import order_place

    open_order = order_place(symbol="AAPL", side="buy", qty="5", source="manual", order_type="limit",
                              limit_price="99", actor=operator, reason="resting bid").order
    assert open_order.status == "accepted"
    client.force_login(operator)
    html = client.get("/orders/").content.decode()
    assert f'form="cancel-form" name="order_id" value="{open_order.pk}"' in html
    assert '<form method="post" action="/orders/cancel/" id="cancel-form">' in html
    # the row carries its own reason box, part of the page's cancel form
    assert f'<input name="reason_{open_order.pk}" form="cancel-form"' in html
    response = client.post("/orders/cancel/", {"order_id": open_order.pk, "reason": ""})
    assert response.status_code == 302 and Order.objects.get().status == "accepted"  # no reason: nothing
    client.post("/orders/cancel/", {"reason": "no order chosen"})
    assert Order.objects.get().status == "accepted" and not ActionLog.objects.filter(action="order.cancel").exists()
    response = client.post("/orders/cancel/", {"order_id": open_order.pk + 1, "reason": "wrong id"}, follow=True)
    assert f"Order {open_order.pk + 1} does not exist." in response.content.decode()
    assert Order.objects.get().status == "accepted" and not ActionLog.objects.filter(action="order.cancel").exists()
    # another row's reason does not cancel this one
    client.post("/orders/cancel/", {"order_id": open_order.pk, f"reason_{open_order.pk + 1}": "not this row"})
    assert Order.objects.get().status == "accepted" and not ActionLog.objects.filter(action="order.cancel").exists()
    response = client.post("/orders/cancel/", {"order_id": open_order.pk, f"reason_{open_order.pk}": "price moved"})
    assert response.status_code == 302 and response["Location"] == "/orders/"
    stream_deliver()  # the broker's cancel confirmation
    assert Order.objects.get().status == "canceled"
    cancel = ActionLog.objects.get(action="order.cancel")
    assert (cancel.actor, cancel.reason) == (operator, "price moved")


def test_order_page_shows_a_parent_with_its_slices_fills_and_charts(client, viewer, operator, market, frozen,
                                                                    django_assert_num_queries, deliver):
    from orders.gateway import order_place
    from orders.models import Fill

    # given a TWAP parent of 100 whose two slices filled 60 @ 100 and 40 @ 100 (children's fills are its fills)
    parent = _order(1, qty=D(100), filled_qty=D(0), status="filled", source="twap", reference_price=D("100"),
                    total_slices=2)
    for n, q in ((1, "60"), (2, "40")):
        child = order_place(symbol="AAPL", side="buy", qty=q, source="twap", actor=operator, reason="slice",
                             client_order_id=f"slice-{n}").order
        deliver()  # the trade stream books the slice's fill, as in production
        Order.objects.filter(pk=child.pk).update(parent_order=parent, slice_num=n, total_slices=2)
        Fill.objects.filter(order=child).update(executed_at=T0 + dt.timedelta(minutes=5 * n))  # slices spread out
    client.force_login(viewer)
    with django_assert_num_queries(12):  # session, user, groups, order, children, fills, events, ADV (2),
        # bars and fills of the symbol (price chart), fills around the slices (TWAP chart)
        response = client.get(f"/orders/{parent.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<dd id="order-filled">100 of 100 @ 100.00</dd>' in html
    assert '<script id="chart-price" type="application/json">' in html and 'data-chart="chart-twap"' in html
    assert html.count('<tr><td>1/2</td>') == 1 and "Fills (2)" in html
    assert f'hx-get="/partials/orders/{parent.pk}/"' in html
    partial = client.get(f"/partials/orders/{parent.pk}/").content.decode()
    assert "<html" not in partial and '<dd id="order-filled">100 of 100 @ 100.00</dd>' in partial
    assert client.get("/orders/999999/").status_code == 404
    assert client.get("/partials/orders/999999/").status_code == 404


def test_orders_partial_is_the_table_and_short_ids_keep_the_full_id(client, viewer, market):
    _order(1, client_order_id="manual-20260310150000-0123456789abcdef0123")
    client.force_login(viewer)
    html = client.get("/partials/orders/").content.decode()
    assert "<html" not in html and '<tr id="order-' in html
    assert 'title="manual-20260310150000-0123456789abcdef0123">…cdef0123</span>' in html
    assert 'data-copy="manual-20260310150000-0123456789abcdef0123"' in html
    page = client.get("/orders/?symbol=AAPL").content.decode()
    assert 'hx-get="/partials/orders/?symbol=AAPL"' in page


def _order(i: int, **kw) -> Order:
    defaults = {"client_order_id": f"t-{i}", "symbol": "AAPL", "side": "buy", "qty": D(10), "status": "filled",
                "filled_qty": D(10), "source": "signal", "created_at": T0 + dt.timedelta(minutes=i),
                "updated_at": T0 + dt.timedelta(minutes=i)}
    return Order.objects.create(**defaults | kw)


def test_orders_list_filters_and_paginates(client, viewer, market):
    for i in range(55):
        _order(i, symbol="AAPL" if i % 2 else "MSFT")
    _order(99, status="rejected", filled_qty=D(0), reject_code="MAX_ORDER_NOTIONAL", source="manual")
    client.force_login(viewer)
    html = client.get("/orders/").content.decode()
    assert "56 order(s), page 1 of 3" in html and html.count('<tr id="order-') == 25
    assert html.index("t-99") < html.index("t-54")  # newest first
    html = client.get("/orders/?page=3").content.decode()
    assert html.count('<tr id="order-') == 6
    html = client.get("/orders/?symbol=aapl&status=filled").content.decode()
    assert "27 order(s)" in html and "MSFT" not in html.split("<tbody>")[1]
    html = client.get("/orders/?status=rejected").content.decode()
    assert "1 order(s)" in html and "MAX_ORDER_NOTIONAL" in html
    day = T0.date().isoformat()
    assert "56 order(s)" in client.get(f"/orders/?start={day}&end={day}").content.decode()
    assert "0 order(s)" in client.get("/orders/?start=2026-03-11").content.decode()


def test_parent_shows_children_progress_and_tca(client, viewer, market):
    parent = _order(1, qty=D(100), filled_qty=D(0), status="accepted", source="twap", reference_price=D("100"))
    _order(2, qty=D(40), filled_qty=D(40), filled_notional=D("4020"), avg_fill_price=D("100.50"),
           parent_order=parent, slice_num=1, total_slices=3)
    _order(3, qty=D(30), filled_qty=D(0), status="scheduled", parent_order=parent, slice_num=2, total_slices=3)
    _order(4, qty=D(30), filled_qty=D(0), status="scheduled", parent_order=parent, slice_num=3, total_slices=3)
    client.force_login(viewer)
    html = client.get("/orders/").content.decode()
    assert "1 order(s)" in html  # children are listed under the parent, not as rows of their own
    assert '<progress max="100" value="40">' in html and "(40 of 100)" in html
    assert "1 filled, 2 scheduled" in html
    # buy: (100.50 − 100) / 100 × 10,000 = 50 bps
    assert "arrival 100.00 · average fill 100.50 · implementation shortfall 50.00 bps" in html
    assert "TWAP pending" in html and "bps sliced vs" in html
    # the parent row's Filled column is its children's: 40 @ 100.50, not the parent row's own 0
    assert '<td class="num filled">40 @ 100.50<br>' in html


@pytest.mark.parametrize("orders", [3, 60])
def test_orders_list_query_count_is_fixed(client, operator, market, django_assert_num_queries, orders):
    for i in range(orders):
        _order(i)
    for k in range(2):  # two TWAP parents on the same symbol
        parent = _order(500 + k, qty=D(20), filled_qty=D(0), status="scheduled", source="manual", total_slices=1)
        _order(600 + k, qty=D(20), status="scheduled", filled_qty=D(0), parent_order=parent, slice_num=1,
               total_slices=1)
    client.force_login(operator)
    # session, user, groups, count, page (with created_by), children of the page's orders,
    # and the ADV of the parents' symbol for the TCA (latest bar, average volume)
    with django_assert_num_queries(8):
        response = client.get("/orders/")
    assert response.content.decode().count('<tr id="order-') == min(orders + 2, 25)
    with django_assert_num_queries(3):  # the same table within two seconds is shared
        client.get("/orders/")


def test_manual_order_service_needs_a_reason_and_records_refusals(operator, market, frozen):
    from console.services import manual_order_submit
    from orders.pretrade import PreTradeRejection
    from trading_site.lib.errors import DomainError

    kwargs = {"actor": operator, "symbol": "AAPL", "side": "buy", "qty": "10", "order_type": "market",
              "limit_price": None, "time_in_force": "day", "client_order_id": "manual-service-test-1"}
    with pytest.raises(DomainError, match="A reason is required."):
        manual_order_submit(**kwargs, reason=" ")
    assert _state() == (0, 0)
    # an order above the max order notional (25,000) is refused, stored as rejected and recorded
    with pytest.raises(PreTradeRejection) as refused:
        manual_order_submit(**kwargs | {"qty": "300", "client_order_id": "manual-service-test-2"}, reason="too big")
    assert refused.value.code == "MAX_ORDER_NOTIONAL"
    log = ActionLog.objects.get(action="order.manual")
    assert (log.reason, log.data["rejected"], log.data["qty"]) == ("too big", "MAX_ORDER_NOTIONAL", "300")


def test_console_writes_refresh_the_shared_orders_table(client, operator, market, frozen, monkeypatch):
    from console import views

    monkeypatch.setattr(views, "ORDERS_CACHE_SECONDS", 60)
    client.force_login(operator)
    assert "0 order(s)" in client.get("/orders/").content.decode()
    _, _, coid = _confirm_page(client)
    client.post("/orders/confirm/", ORDER | {"client_order_id": coid, "reason": "shown at once"})
    assert "1 order(s)" in client.get("/orders/").content.decode()
    _order(1, client_order_id="elsewhere")  # written by another app: shown when the shared table expires
    assert "1 order(s)" in client.get("/orders/").content.decode()
    assert "2 order(s)" in client.get("/orders/?status=").content.decode()  # other filters: another table


def test_manual_twap_order_creates_a_parent_with_scheduled_slices(client, operator, market, frozen):
    client.force_login(operator)
    response, html, coid = _confirm_page(client, qty="100", slices="4", horizon_minutes="20")
    assert response.status_code == 200
    assert "4 slices over 20 minutes, one every 300 s; first slice 25 shares." in html
    assert "Risk controls (whole TWAP order, 100 shares): passed" in html
    assert 'id="est-notional">10,000.00<' in html
    client.post("/orders/confirm/", ORDER | {"qty": "100", "slices": "4", "horizon_minutes": "20",
                                             "client_order_id": coid, "reason": "work it over 20 minutes"})
    parent = Order.objects.get(parent_order__isnull=True)
    children = list(Order.objects.filter(parent_order=parent).order_by("slice_num"))
    assert (parent.source, parent.status, parent.qty, parent.total_slices) == ("manual", "scheduled", D(100), 4)
    assert [(c.qty, c.status, c.scheduled_time - T0) for c in children] == [
        (D(25), "scheduled", dt.timedelta(minutes=5 * k)) for k in range(4)]
    manual = ActionLog.objects.get(action="order.manual")
    assert (manual.reason, manual.data["twap_slices"], manual.object_id) == ("work it over 20 minutes", 4,
                                                                              str(parent.pk))
    html = client.get("/orders/").content.decode()
    assert "1 order(s)" in html and '<progress max="100" value="0">' in html and "4 scheduled" in html
    assert "TWAP pending" in html


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"slices": "4"}, "horizon_minutes", "A TWAP order needs its horizon in minutes."),
    ({"horizon_minutes": "20"}, "slices", "A TWAP order needs its number of slices."),
    ({"slices": "0", "horizon_minutes": "20"}, "slices", "Ensure this value is greater than or equal to 1."),
    ({"slices": "4", "horizon_minutes": "20", "time_in_force": "gtc"}, "time_in_force", "TWAP slices are day orders."),
])
def test_bad_twap_input_changes_nothing(client, operator, market, frozen, changes, field, message):
    client.force_login(operator)
    response, html, coid = _confirm_page(client, **changes)
    assert response.status_code == 400 and coid is None and message in html
    field_block = re.search(rf'<p class="field has-error">\s*<label for="id_{field}">.*?</p>', html, re.DOTALL)
    assert field_block is not None and f'role="alert">{message}</span>' in field_block.group(0)  # on that field
    assert _state() == (0, 0)


def test_ticket_reports_every_field_error_at_once_and_changes_nothing(client, operator, market, frozen):
    client.force_login(operator)
    response, html, coid = _confirm_page(client, symbol="ZZZZ", qty="-1", order_type="limit", limit_price="nan")
    assert response.status_code == 400 and coid is None
    assert "unknown symbol ZZZZ" in html and "Quantity must be greater than zero" in html
    assert "Limit price must be a finite number" in html or "Limit price must be a number" in html
    assert _state() == (0, 0)


def test_ticket_shows_a_dated_quote_the_resulting_position_and_buying_power(client, operator, market, frozen):
    from orders.reconcile import account_snapshot_record

    buy("AAPL", "4", actor=operator)
    account_snapshot_record()  # cash 100,000 − 400 = 99,600
    client.force_login(operator)
    new = client.get("/orders/new/?symbol=AAPL&side=sell&qty=4").content.decode()  # "Close" on a position row
    assert 'value="AAPL"' in new and 'value="4"' in new and '<option value="sell" selected>' in new
    assert '<datalist id="asset-list">' in new and '<option value="MSFT">' in new
    _, html, coid = _confirm_page(client)  # buy 10 AAPL at 100
    assert coid is not None
    assert re.search(r'quoted <time datetime="2026-03-10T15:00:00\+00:00">2026-03-10 15:00:00 UTC</time>, '
                     r'latest bar <time datetime="2026-01-02" id="quote-session">2026-01-02</time>', html)
    assert '<td id="position-after">4 → <strong>14</strong> AAPL</td>' in html
    assert '<td id="buying-power-after">99,600.00 → <strong>98,600.00</strong></td>' in html
