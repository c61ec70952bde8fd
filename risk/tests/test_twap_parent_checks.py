"""Every check that can refuse an order runs when a TWAP parent is created, on the whole parent.

A refused parent is stored ``rejected`` with the check's code and NO children, the API answers 422
with the code, the console shows the refusal (422, not a success message), and nothing reaches the
broker. No fill is involved: the parent is refused before anything could be sent, so these hold in
either fill-delivery mode.
"""

from decimal import Decimal

import pytest
from django.core.cache import cache

from orders.models import Order, OrderEvent
from orders.pretrade import PreTradeRejection
from orders.slicing import twap_order_place
from risk import limiter, services
from risk.checks import BROKER_RATE_KEY, ORDER_RATE_KEY
from risk.models import RiskLimits
from risk.state import CACHE_KEY
from risk.tests.conftest import T_OPEN, asset
from trading_site.models import ActionLog

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("only_risk_checks")]

TWAP = {"symbol": "AAPL", "side": "buy", "qty": "9", "type": "market", "reason": "work it",
        "algo": {"type": "twap", "slices": 3, "horizon_minutes": 3}}


def _fresh_state() -> None:
    cache.delete(CACHE_KEY)  # the test transaction never commits: drop the cached risk state by hand


@pytest.fixture
def engaged(operator):
    services.kill_switch_latch(actor=operator, reason="stop everything")
    _fresh_state()


@pytest.fixture
def tripped():
    services.breaker_trip(name="daily_loss", reason="lost 2.1% today")
    _fresh_state()


@pytest.fixture
def phase_one():
    """Rollout phase 1 enforced on paper: $500 cap, SPY and QQQ only."""
    RiskLimits.objects.filter(pk=1).update(rollout_phase=1, rollout_on_paper=True)
    _fresh_state()
    return asset("SPY", price="100")


def _assert_refused(code: str, *, symbol: str = "AAPL", client_order_id: str | None = None) -> Order:
    parent = Order.objects.get(parent_order__isnull=True)
    assert (parent.status, parent.reject_code, parent.symbol) == ("rejected", code, symbol)
    assert Order.objects.filter(parent_order=parent).count() == 0
    assert list(OrderEvent.objects.filter(order=parent).values_list("kind", "to_status")) == [
        ("pretrade_rejected", "rejected")]
    if client_order_id is not None:
        assert parent.client_order_id == client_order_id
    return parent


@pytest.mark.parametrize(("state", "body", "code"), [
    ("engaged", TWAP, "KILL_SWITCH_ENGAGED"),
    ("tripped", TWAP, "CIRCUIT_BREAKER_OPEN"),
    ("phase_one", TWAP | {"symbol": "SPY"}, "ROLLOUT_PHASE_LIMIT"),  # 9 × 100 = 900 > 500, slices of 300 each fit
    ("phase_one", TWAP, "SYMBOL_NOT_ALLOWED"),  # AAPL is not in phase 1's allow-list
])
def test_api_twap_parent_refused_with_422_and_no_children(request, aapl, broker, frozen, api_as, operator,
                                                          state, body, code):
    request.getfixturevalue(state)
    resp = api_as(operator).post("/api/v1/orders/", body | {"client_order_id": "twap-refused-1"}, format="json")
    assert (resp.status_code, resp.json()["code"]) == (422, code), resp.json()
    _assert_refused(code, symbol=body["symbol"], client_order_id="twap-refused-1")
    assert broker.submit_calls == 0
    audit = ActionLog.objects.get(action="order.twap_create")
    assert audit.data["rejected"] == code
    # the same request again is the same refused parent (idempotent), still without children
    again = api_as(operator).post("/api/v1/orders/", body | {"client_order_id": "twap-refused-1"}, format="json")
    assert again.status_code == 200 and again.json()["status"] == "rejected"
    assert Order.objects.count() == 1


def test_console_twap_parent_refused_shows_the_code_not_success(aapl, broker, frozen, engaged, client, operator):
    client.force_login(operator)
    resp = client.post("/orders/confirm/", {
        "symbol": "AAPL", "side": "buy", "qty": "9", "order_type": "market", "limit_price": "", "time_in_force": "day",
        "slices": "3", "horizon_minutes": "3", "client_order_id": "manual-twap-0123456789", "reason": "try anyway",
    })
    html = resp.content.decode()
    assert resp.status_code == 422
    assert '<strong class="reject-code">KILL_SWITCH_ENGAGED</strong>' in html
    assert "Recorded as order manual-twap-0123456789 (status rejected)." in html
    parent = _assert_refused("KILL_SWITCH_ENGAGED", client_order_id="manual-twap-0123456789")
    assert parent.source == "manual"
    manual = ActionLog.objects.get(action="order.manual")
    assert (manual.reason, manual.data["rejected"], manual.data["twap_slices"]) == ("try anyway",
                                                                                   "KILL_SWITCH_ENGAGED", 3)
    assert broker.submit_calls == 0
    # no success message waits on the orders page
    assert "msg-success" not in html and "msg-success" not in client.get("/orders/").content.decode()


def test_console_preview_checks_the_whole_parent(aapl, broker, frozen, client, operator):
    # 600 × 100 = 60,000 over the 50,000 position limit; each of the 6 slices (10,000) alone would pass
    client.force_login(operator)
    resp = client.post("/orders/new/", {"symbol": "AAPL", "side": "buy", "qty": "600", "order_type": "market",
                                        "limit_price": "", "time_in_force": "day", "slices": "6",
                                        "horizon_minutes": "30"})
    html = resp.content.decode()
    assert "Risk controls (whole TWAP order, 600 shares): " in html
    assert '<strong class="reject-code">MAX_POSITION_NOTIONAL</strong>' in html
    assert Order.objects.count() == 0


def test_limits_measure_the_whole_parent(aapl, broker, frozen):
    # position limit 50,000: 600 shares at 100 are refused although every slice of 100 is small
    with pytest.raises(PreTradeRejection) as info:
        twap_order_place(symbol="AAPL", side="buy", qty="600", slices=6, horizon_minutes=30, actor=None,
                          source="api", reason="too big")
    assert info.value.code == "MAX_POSITION_NOTIONAL"
    assert info.value.data == {"position_notional": "60000.0000", "limit": "50000.000000"}
    _assert_refused("MAX_POSITION_NOTIONAL")
    assert broker.submit_calls == 0


@pytest.mark.redis
def test_the_order_notional_cap_measures_the_largest_slice(aapl, broker, frozen):
    # 300 shares = 30,000 whole, over the 25,000 order cap: as one slice it is refused...
    with pytest.raises(PreTradeRejection) as info:
        twap_order_place(symbol="AAPL", side="buy", qty="300", slices=1, horizon_minutes=1, actor=None,
                          source="api", reason="one piece", client_order_id="twap-one-slice")
    assert info.value.code == "MAX_ORDER_NOTIONAL"
    assert info.value.detail == "Largest TWAP slice notional 30000.00 exceeds the maximum of 25000.00."
    # ...as three slices of 10,000 it is accepted, with its three children and no rate budget spent
    parent = twap_order_place(symbol="AAPL", side="buy", qty="300", slices=3, horizon_minutes=3, actor=None,
                               source="api", reason="sliced").order
    assert parent.status == "scheduled"
    assert list(parent.children.order_by("slice_num").values_list("qty", flat=True)) == [Decimal(100)] * 3
    for name in (ORDER_RATE_KEY, BROKER_RATE_KEY):
        assert limiter.count(name=name, now=T_OPEN, window=60) == 0
    assert broker.submit_calls == 0


def test_engage_cancels_unsent_slices_and_reset_releases_nothing(aapl, broker, frozen, operator, admin_user,
                                                                 django_capture_on_commit_callbacks):
    from orders.slicing import slices_dispatch_due

    parent = twap_order_place(symbol="AAPL", side="buy", qty="9", slices=3, horizon_minutes=3, actor=None,
                               source="api", reason="before the drill").order
    with django_capture_on_commit_callbacks(execute=True):
        services.kill_switch_engage(actor=operator, reason="drill", flatten=False)
    statuses = list(parent.children.order_by("slice_num").values_list("status", flat=True))
    assert statuses == ["canceled"] * 3
    with django_capture_on_commit_callbacks(execute=True):
        services.kill_switch_reset(actor=admin_user, reason="drill over")
    # every slice's time comes and goes after the reset: nothing is released
    frozen.shift(10 * 60)
    slices_dispatch_due()
    parent.refresh_from_db()
    assert parent.status == "canceled"
    assert list(parent.children.order_by("slice_num").values_list("status", flat=True)) == ["canceled"] * 3
    assert broker.submit_calls == 0
