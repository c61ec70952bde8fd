"""TWAP services in-process: parent/children creation, bad input, dispatch by compare-and-set,
pre-trade blocking, catch-up of partial fills, sweeper, parent cancel, aggregate and TCA.

The real worker/beat flows are in tests/test_twap_processes.py.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine

from orders import pretrade
from orders.brokers import use_broker
from orders.brokers.base import BrokerUnavailable
from orders.conf import resolve_grace_seconds
from orders.gateway import OrderConflict, OrderInputError, order_cancel, order_send_scheduled
from orders.models import Order, OrderEvent, OrderStatus, SimOrder
from orders.selectors import twap_parent_get
from orders.slicing import slice_dispatch, slices_dispatch_due, twap_order_place
from orders.tca import parent_tca
from orders.tests.conftest import T0, CountingBroker, make_asset
from trading_site.api.errors import http_status_of
from trading_site.models import ActionLog

pytestmark = pytest.mark.django_db


def _counts():
    return Order.objects.count(), OrderEvent.objects.count(), SimOrder.objects.count()


def _create(**overrides):
    kwargs = {"symbol": "AAPL", "side": "buy", "qty": "100", "slices": 6, "horizon_minutes": 30, "actor": None, "source": "api"}
    kwargs.update(overrides)
    return twap_order_place(**kwargs).order


def test_parent_and_six_children_are_stored_scheduled_at_absolute_times(aapl, sim_broker, frozen, operator):
    parent = _create(actor=operator, reason="rebalance AAPL")
    children = list(parent.children.order_by("slice_num"))
    assert parent.status == "scheduled" and parent.total_slices == 6 and parent.parent_order_id is None
    assert parent.reference_price == D("100")  # arrival price: the bar's flat path
    assert [c.qty for c in children] == [D(17), D(17), D(17), D(17), D(16), D(16)]
    assert [c.scheduled_time for c in children] == [T0 + dt.timedelta(minutes=5 * i) for i in range(6)]
    assert [c.client_order_id for c in children] == [f"{parent.client_order_id}-s{i}" for i in range(6)]
    assert {c.status for c in children} == {"scheduled"} and {c.source for c in children} == {"twap"}
    assert SimOrder.objects.count() == 0  # nothing sent
    assert ActionLog.objects.filter(action="order.twap_create", actor=operator).count() == 1


def test_same_client_order_id_returns_the_same_parent_and_different_request_conflicts(aapl, sim_broker, frozen):
    first = _create(client_order_id="rebal-7-AAPL")
    again = _create(client_order_id="rebal-7-AAPL")
    assert again.pk == first.pk and Order.objects.count() == 7
    with pytest.raises(OrderConflict):
        _create(client_order_id="rebal-7-AAPL", qty="101")
    assert Order.objects.count() == 7


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"slices": 0}, "slices"),
        ({"slices": -3}, "slices"),
        ({"slices": 1001}, "slices"),
        ({"horizon_minutes": 0}, "horizon_minutes"),
        ({"horizon_minutes": "-5"}, "horizon_minutes"),
        ({"start_time": T0 - dt.timedelta(minutes=5)}, "start_time"),
        ({"qty": "0"}, "qty"),
        ({"symbol": "NOPE"}, "symbol"),
        ({"horizon_minutes": 600}, "horizon_minutes"),  # 11:00 + 10 h runs past the 16:00 close
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(aapl, sim_broker, frozen, overrides, field):
    before = _counts()
    with pytest.raises(Exception) as info:
        _create(**overrides)
    assert http_status_of(info.value) in (400, 404, 422)
    assert field in (getattr(info.value, "fields", None) or {field: 1})
    assert _counts() == before


def test_qty_below_the_minimum_lot_is_refused(db, sim_broker, frozen):
    asset = make_asset("BRK", price="500")
    asset.min_lot = D(10)
    asset.save()
    with pytest.raises(OrderInputError) as info:
        _create(symbol="BRK", qty="5")
    assert "minimum lot" in str(info.value) and Order.objects.count() == 0


def test_horizon_past_the_close_is_clipped_when_asked(aapl, sim_broker, frozen):
    # 11:00 New York + 10 h → clipped to the 16:00 close: 5 h over 6 slices = 50 min apart
    parent = _create(horizon_minutes=600, clip_to_close=True)
    times = list(parent.children.order_by("slice_num").values_list("scheduled_time", flat=True))
    assert times[1] - times[0] == dt.timedelta(minutes=50)
    assert times[-1] < dt.datetime(2026, 3, 10, 20, 0, tzinfo=dt.UTC)


def test_a_due_slice_is_sent_once_however_often_it_is_dispatched(aapl, frozen, deliver):
    broker = CountingBroker(__import__("orders.brokers.simulated", fromlist=["x"]).SimulatedBroker(market_hours="always"))
    with use_broker(broker):
        parent = _create()
        first = parent.children.get(slice_num=0)
        slice_dispatch(order_id=first.pk)
        slice_dispatch(order_id=first.pk)
        order_send_scheduled(order_id=first.pk)
        slices_dispatch_due()
        not_due = parent.children.get(slice_num=1)
        order_send_scheduled(order_id=not_due.pk)  # 5 minutes early: the claim refuses it
        deliver()
    first.refresh_from_db()
    assert broker.submit_calls == 1
    assert (first.status, first.filled_qty) == ("filled", D(17))
    assert not_due.__class__.objects.get(pk=not_due.pk).status == "scheduled"


def test_kill_switch_style_rejection_blocks_the_slice_without_a_broker_call(aapl, counting_broker, frozen):
    def kill_switch(intent):
        raise pretrade.PreTradeRejection("KILL_SWITCH_ENGAGED", "engaged")

    parent = _create()
    pretrade.register_check("test.kill", kill_switch)
    slices_dispatch_due()
    child = parent.children.get(slice_num=0)
    assert (child.status, child.reject_code) == ("rejected", "KILL_SWITCH_ENGAGED")
    assert counting_broker.submit_calls == 0
    assert child.events.filter(kind="pretrade_rejected").count() == 1


def test_partial_fill_rolls_forward_and_last_slice_takes_the_rest(db, sim_broker, deliver):
    # ADV 39,000 → the participation cap fills 10 shares per evaluation; slices of 15 fill partially.
    # Fills and cancel confirmations arrive over the stream (delivered after each beat pass, as the
    # trade-stream process does), so a remainder rolls forward only once its cancel is confirmed.
    make_asset("THIN", price="10", volume="39000")
    with time_machine.travel(T0, tick=False) as traveller:
        parent = _create(symbol="THIN", qty="45", slices=3, horizon_minutes=3)
        slices_dispatch_due()  # slice 0: 15 sent, 10 filled, 5 open
        deliver()
        traveller.shift(dt.timedelta(seconds=60))
        slices_dispatch_due()  # slice 0's cancel requested (not confirmed): slice 1 = (45 - 15) ÷ 2 = 15
        deliver()  # slice 0 canceled with 10 filled; slice 1 filled 10
        traveller.shift(dt.timedelta(seconds=60))
        slices_dispatch_due()  # slice 1's cancel requested; last slice = 45 - 10 - 15 = 20, 10 filled
        deliver()  # slice 1 canceled with 10 filled: its 5 roll into a catch-up child
        kids = {c.slice_num: c for c in parent.children.all()}
        assert [kids[i].qty for i in range(3)] == [D(15), D(15), D(20)]
        assert [kids[i].filled_qty for i in range(3)] == [D(10), D(10), D(10)]
        assert kids[0].status == kids[1].status == "canceled"
        rolled = kids[2].events.get(kind="rolled_forward").data
        assert (D(rolled["planned_qty"]), D(rolled["qty"])) == (D(15), D(20))
        for _ in range(10):  # the beat (dispatch every second) and the stream keep going
            traveller.shift(dt.timedelta(seconds=1))
            slices_dispatch_due()
            deliver()
    parent.refresh_from_db()
    kids = list(parent.children.order_by("slice_num").values_list("slice_num", "qty", "filled_qty", "status"))
    # The 45-share case: the parent completes its full quantity, never more.
    assert parent.status == "filled"
    assert sum(filled for _, _, filled, _ in kids) == D(45)
    assert all(filled <= qty for _, qty, filled, _ in kids)
    assert parent.events.filter(kind="catch_up").exists()


def test_sweeper_resends_a_claimed_slice_under_the_same_id_and_only_once(aapl, counting_broker, conf_sweep, deliver):
    with time_machine.travel(T0, tick=False) as traveller:
        parent = _create()
        child = parent.children.get(slice_num=0)
        from orders.gateway import order_claim_scheduled

        assert order_claim_scheduled(order_id=child.pk)  # the worker dies here
        traveller.shift(dt.timedelta(seconds=resolve_grace_seconds()))  # past the in-flight grace
        result = slices_dispatch_due()
        slices_dispatch_due()
        deliver()
    child.refresh_from_db()
    assert result["swept"] == 1
    assert (child.status, child.filled_qty) == ("filled", D(17))
    assert counting_broker.submit_calls == 1
    assert SimOrder.objects.filter(client_order_id=child.client_order_id).count() == 1


@pytest.fixture
def conf_sweep(sim_conf):
    sim_conf.twap_sweep_grace_seconds = 10
    return sim_conf


def test_a_broker_error_fails_the_slice_and_the_next_one_still_goes_out(aapl, sim_broker, deliver):
    with time_machine.travel(T0, tick=False) as traveller:
        parent = _create()
        failing = CountingBroker(sim_broker, submit_error=BrokerUnavailable("connection reset"), error_after_send=False)
        with use_broker(failing):
            slices_dispatch_due()
        first = parent.children.get(slice_num=0)
        assert first.status == "unknown"
        from orders.gateway import order_resolve

        assert order_resolve(order_id=first.pk).status == "unknown"  # may still be in flight
        traveller.shift(dt.timedelta(seconds=resolve_grace_seconds()))
        order_resolve(order_id=first.pk)  # the resolver: not at the broker → failed
        traveller.shift(dt.timedelta(minutes=5))
        slices_dispatch_due()
        deliver()
    first.refresh_from_db()
    second = parent.children.get(slice_num=1)
    assert (first.status, first.reject_code) == ("failed", "NOT_AT_BROKER")
    # slice 0 keeps its 17 shares (failed is not released: it may still reach the broker), so the
    # rest is planned as before: (100 − 17) over 5 slices left = 17, 17, 17, 16, 16
    assert (second.status, second.qty, second.filled_qty) == ("filled", D(17), D(17))


def test_a_failed_slice_is_resent_under_its_own_id_so_a_revival_cannot_over_fill(aapl, sim_broker, deliver):
    from orders.brokers.base import SubmitRequest
    from orders.gateway import order_resolve
    from orders.models import SimTradeUpdate

    with time_machine.travel(T0, tick=False) as traveller:
        parent = _create(qty="60", slices=3, horizon_minutes=3)  # 20, 20, 20
        lost = CountingBroker(sim_broker, submit_error=BrokerUnavailable("timeout"), error_after_send=False)
        with use_broker(lost):
            slices_dispatch_due()  # slice 0 never reaches the exchange (so far)
        first = parent.children.get(slice_num=0)
        traveller.shift(dt.timedelta(seconds=resolve_grace_seconds()))
        assert order_resolve(order_id=first.pk).status == "failed"  # provisional NOT_AT_BROKER
        # the slow first submission lands at the exchange after the verdict (the double fault of
        # ADR 0022); its updates are lost, so the ledger still says failed
        sim_broker.submit_order(SubmitRequest(first.client_order_id, "AAPL", "buy", D(20), "market", "day"))
        SimTradeUpdate.objects.update(delivered=True)
        for _ in range(2):  # slices 1 and 2: sized with slice 0 still counted at its 20
            traveller.shift(dt.timedelta(seconds=60))
            slices_dispatch_due()
            deliver()
        assert list(parent.children.order_by("slice_num").values_list("qty", flat=True)) == [D(20), D(20), D(20)]
        # no slice is scheduled any more: the failed child is sent again under its own id (after its
        # back-off) — the exchange answers "duplicate", the lookup finds the late order and books it
        traveller.shift(dt.timedelta(seconds=5))
        slices_dispatch_due()
        sim_broker.tick()
        deliver()
        traveller.shift(dt.timedelta(seconds=5))
        slices_dispatch_due()
    parent.refresh_from_db()
    first.refresh_from_db()
    assert (first.status, first.filled_qty) == ("filled", D(20))
    assert first.events.filter(kind="resent").count() == 1
    assert parent.children.count() == 3  # no catch-up child: nothing was released
    assert SimOrder.objects.filter(client_order_id=first.client_order_id).count() == 1
    assert sum(parent.children.values_list("filled_qty", flat=True)) == D(60)
    assert parent.status == "filled"


def test_a_failed_slice_the_broker_never_got_is_resent_and_completes_the_parent(aapl, sim_broker, deliver):
    from orders.gateway import order_resolve

    with time_machine.travel(T0, tick=False) as traveller:
        parent = _create(qty="60", slices=3, horizon_minutes=3)
        with use_broker(CountingBroker(sim_broker, submit_error=BrokerUnavailable("reset"), error_after_send=False)):
            slices_dispatch_due()
        first = parent.children.get(slice_num=0)
        traveller.shift(dt.timedelta(seconds=resolve_grace_seconds()))
        order_resolve(order_id=first.pk)
        for _ in range(2):
            traveller.shift(dt.timedelta(seconds=60))
            slices_dispatch_due()
            deliver()
        traveller.shift(dt.timedelta(seconds=5))
        slices_dispatch_due()  # resent under its own id: the exchange takes it this time
        deliver()
        traveller.shift(dt.timedelta(seconds=5))
        slices_dispatch_due()
    parent.refresh_from_db()
    first.refresh_from_db()
    assert (first.status, first.filled_qty, first.reject_code) == ("filled", D(20), "")
    assert SimOrder.objects.filter(client_order_id=first.client_order_id).count() == 1
    assert (parent.status, sum(parent.children.values_list("filled_qty", flat=True))) == ("filled", D(60))


def test_cancel_parent_cancels_unsent_and_open_children(db, sim_broker, deliver):
    make_asset("THIN", price="10", volume="39000")
    with time_machine.travel(T0, tick=False):
        parent = _create(symbol="THIN", qty="60", slices=4, horizon_minutes=4)
        slices_dispatch_due()  # slice 0: 15 sent, 10 filled, 5 open at the exchange
        order_cancel(order=parent.pk, actor=None, reason="changed my mind")
        slices_dispatch_due()
        deliver()  # the exchange's cancel confirmation
    parent.refresh_from_db()
    statuses = list(parent.children.order_by("slice_num").values_list("status", flat=True))
    assert parent.status == "canceled"
    assert statuses == ["canceled", "canceled", "canceled", "canceled"]
    assert SimOrder.objects.get().status == "canceled"
    assert SimOrder.objects.count() == 1


def test_aggregate_status_and_tca_through_a_whole_parent(aapl, sim_broker, deliver):
    with time_machine.travel(T0, tick=False) as traveller:
        parent = _create(qty="60", slices=3, horizon_minutes=3)
        agg = twap_parent_get(order_id=parent.pk)
        assert (agg.aggregated_status, agg.slices_submitted, agg.agg_filled_qty) == ("pending", 0, D(0))
        for _ in range(3):
            slices_dispatch_due()
            deliver()
            traveller.shift(dt.timedelta(seconds=60))
        agg_done = twap_parent_get(order_id=parent.pk)
        slices_dispatch_due()
    parent.refresh_from_db()
    # each slice of 20 at path 100: 2 + 10 × √(20/1e6) = 2.0447 bps → 100.020447 → 100.03 (tick up)
    assert (agg_done.aggregated_status, agg_done.slices_submitted, agg_done.agg_filled_qty) == ("complete", 3, D(60))
    assert agg_done.agg_avg_fill_price == D("100.030000")
    assert parent.status == "filled" and parent.filled_qty == 0  # fills live on the children only
    tca = parent_tca(parent=parent)
    assert tca.arrival_price == D("100") and tca.avg_fill_price == D("100.030000")
    assert tca.shortfall_bps == D("3.00")
    # one order of 60: 2 + 10 × √(60/1e6) = 2.0775 bps; slices of 20: 2.0447 bps
    assert (tca.est_single_order_bps, tca.est_slices_bps) == (D("2.08"), D("2.04"))
    assert parent.status == OrderStatus.FILLED


def test_kill_switch_engage_cancels_the_parent_and_every_unsent_slice(aapl, counting_broker, frozen, deliver):
    from risk.services import kill_switch_engage

    parent = _create()
    slices_dispatch_due()  # slice 0 filled
    deliver()
    kill_switch_engage(actor=None, reason="drill", flatten=False)
    parent.refresh_from_db()
    statuses = list(parent.children.order_by("slice_num").values_list("status", flat=True))
    assert parent.status == "canceled"
    assert statuses == ["filled"] + ["canceled"] * 5
    assert counting_broker.submit_calls == 1


def test_sweeper_applies_a_slice_the_broker_already_has_without_resending(aapl, counting_broker, conf_sweep):
    from orders.brokers.base import SubmitRequest
    from orders.gateway import order_claim_scheduled

    with time_machine.travel(T0, tick=False) as traveller:
        parent = _create()
        child = parent.children.get(slice_num=0)
        assert order_claim_scheduled(order_id=child.pk)
        # the broker got it, then the worker died before recording the answer
        counting_broker.inner.submit_order(SubmitRequest(
            client_order_id=child.client_order_id, symbol="AAPL", side="buy", qty=child.qty, order_type="market",
            time_in_force="day"))
        traveller.shift(dt.timedelta(seconds=resolve_grace_seconds()))  # past the in-flight grace
        slices_dispatch_due()
    child.refresh_from_db()
    assert (child.status, child.filled_qty) == ("filled", D(17))
    assert counting_broker.submit_calls == 0 and not child.events.filter(kind="resent").exists()
    assert SimOrder.objects.count() == 1


def test_a_resent_slice_passes_the_pre_trade_checks_again(aapl, counting_broker, conf_sweep):
    from orders.gateway import order_claim_scheduled

    with time_machine.travel(T0, tick=False) as traveller:
        parent = _create()
        child = parent.children.get(slice_num=0)
        assert order_claim_scheduled(order_id=child.pk)  # the worker dies before the checks ran
        pretrade.register_check(
            "test.kill", lambda intent: (_ for _ in ()).throw(pretrade.PreTradeRejection("KILL_SWITCH_ENGAGED", "on"))
        )
        traveller.shift(dt.timedelta(seconds=resolve_grace_seconds()))  # past the in-flight grace
        slices_dispatch_due()
    child.refresh_from_db()
    assert (child.status, child.reject_code) == ("rejected", "KILL_SWITCH_ENGAGED")
    assert counting_broker.submit_calls == 0


def test_one_slice_raising_does_not_stop_the_other_due_slices(db, sim_broker, frozen, deliver):
    make_asset("AAPL", price="100")
    make_asset("MSFT", price="50")
    bad = _create(symbol="AAPL")
    good = _create(symbol="MSFT")

    def explode(intent):
        if intent.symbol == "AAPL":
            raise RuntimeError("a bug in a check")

    pretrade.register_check("test.explode", explode)
    result = slices_dispatch_due()
    assert result["errors"] == 1 and result["dispatched"] == 1
    deliver()
    assert bad.children.get(slice_num=0).status == "submitting"  # the sweeper retries it later
    assert good.children.get(slice_num=0).status == "filled"


def test_stale_cleanup_counts_a_slice_age_from_its_submission(db, sim_broker, deliver):
    from orders.reconcile import stale_orders_cancel

    make_asset("THIN", price="10", volume="39000")
    with time_machine.travel(T0, tick=False) as traveller:
        parent = _create(symbol="THIN", qty="60", slices=2, horizon_minutes=60)
        traveller.shift(dt.timedelta(minutes=30))
        slices_dispatch_due()  # slice 0 (due at T0, sent now): 30 sent, 10 filled, open
        deliver()
        assert stale_orders_cancel() == 0  # created 30 min ago, but sent just now
        traveller.shift(dt.timedelta(minutes=16))
        assert stale_orders_cancel() == 1
        deliver()  # the cancel confirmation
    assert parent.children.get(slice_num=0).status == "canceled"


def test_children_rows_are_the_same_with_the_portable_insert(aapl, sim_broker, frozen, operator, monkeypatch):
    from django.db import connection

    fast = _create(actor=operator, client_order_id="fast-1", reason="r", strategy="s1")
    monkeypatch.setattr(connection, "vendor", "sqlite")  # the embedded run's bulk_create path
    portable = _create(actor=operator, client_order_id="portable-1", reason="r", strategy="s1")
    columns = ("symbol", "side", "order_type", "qty", "limit_price", "time_in_force", "extended_hours", "status",
               "source", "strategy", "created_by_id", "reason", "reject_code", "filled_qty", "filled_notional",
               "commission", "slice_num", "total_slices", "scheduled_time", "created_at", "updated_at",
               "submitted_at", "broker_order_id")
    rows = [list(p.children.order_by("slice_num").values_list(*columns)) for p in (fast, portable)]
    assert rows[0] == rows[1] and len(rows[0]) == 6
    assert rows[0][0][columns.index("created_by_id")] == operator.pk
    assert list(portable.children.values_list("client_order_id", flat=True).order_by("slice_num"))[2] == "portable-1-s2"


def test_an_in_flight_slice_is_neither_failed_nor_resent_by_a_poll(aapl, counting_broker, frozen):
    from orders.gateway import order_claim_scheduled, order_resolve

    parent = _create()
    child = parent.children.get(slice_num=0)
    assert order_claim_scheduled(order_id=child.pk)  # a worker is sending it (slow broker)
    frozen.shift(5)
    order_resolve(order_id=child.pk)  # the trade stream's fallback poll, 5 s after the claim
    child.refresh_from_db()
    assert (child.status, child.reject_code) == ("submitting", "")
    assert counting_broker.submit_calls == 0 and not child.events.filter(kind="resent").exists()
