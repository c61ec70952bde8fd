"""The simulated exchange: price path, fill model (hand-computed), partial fills, limits, hours."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine

from marketdata.models import Asset, Bar
from marketdata.selectors import BarData, average_daily_volume
from orders.brokers.simulated import PreloadedBars, SimulatedBroker, path_price, session_position
from orders.gateway import order_place
from orders.models import Fill, Order, SimOrder
from orders.reconcile import reconcile_run, stale_orders_cancel
from orders.tasks import sim_tick
from orders.tests.conftest import T0, make_asset
from trading_site.models import Alert

pytestmark = pytest.mark.django_db
BAR = BarData("XYZ", dt.date(2026, 3, 9), D("10"), D("12"), D("9"), D("11"), None)


def test_path_is_deterministic_bounded_and_anchored():
    prices = [path_price(BAR, D(i) / 100, seed=42) for i in range(101)]
    assert prices[0] == D("10.0000") and prices[-1] == D("11.0000")
    assert D("9") <= min(prices) < D("9.1") and D("11.9") < max(prices) <= D("12")
    assert prices == [path_price(BAR, D(i) / 100, seed=42) for i in range(101)]
    assert prices != [path_price(BAR, D(i) / 100, seed=7) for i in range(101)]


def test_session_position_modes():
    # 15:00 UTC = 11:00 EDT: NYSE open, 1.5 h of 6.5 h elapsed
    is_open, session, frac = session_position(T0, mode="nyse")
    assert (is_open, session) == (True, dt.date(2026, 3, 10)) and frac == D(90) / D(390)
    saturday = dt.datetime(2026, 3, 14, 15, 0, tzinfo=dt.UTC)
    assert session_position(saturday, mode="nyse")[0] is False
    assert session_position(saturday, mode="always") == (True, dt.date(2026, 3, 14), D(11 * 3600) / D(86400))


def test_quote_from_path(aapl, sim_broker, frozen):
    q = sim_broker.latest_quote("AAPL")
    # flat bar at 100: last 100; bid/ask ∓ 2 bps → 99.98 / 100.02
    assert (q.bid, q.ask, q.last) == (D("99.98"), D("100.02"), D("100.0000"))
    assert sim_broker.latest_quote("NONE") is None


def test_participation_cap_gives_partial_fills_then_ticks_complete(aapl, sim_broker, frozen, deliver):
    # cap per minute: 0.10 × 1,000,000 × 60 s / (390 × 60 s) = 256.41 → 256 whole shares
    order = order_place(symbol="AAPL", side="buy", qty="600", source="api").order
    deliver()
    order.refresh_from_db()
    assert (order.status, order.filled_qty) == ("partially_filled", D(256))
    # impact = 10 × √(256/1e6) = 0.16 bps → 2.16 bps → 100.0216 → 100.03
    assert Fill.objects.get().price == D("100.03")
    frozen.shift(60)
    sim_tick()
    frozen.shift(60)
    sim_tick()
    order.refresh_from_db()
    assert (order.status, order.filled_qty) == ("filled", D(600))
    assert list(order.fills.values_list("qty", flat=True)) == [D(256), D(256), D(88)]


def test_commission_and_volume_from_bars(db, sim_broker, frozen, sim_conf, deliver):
    sim_conf.sim_commission_per_share = D("0.005")
    sim_conf.sim_commission_min = D("1")
    make_asset("VOL", price="50", volume="39000")
    # ADV from the bar's own volume (no earlier bars): 39,000; cap/min = 0.1 × 39,000 / 390 = 10 shares
    order = order_place(symbol="VOL", side="sell", qty="10", source="api").order
    deliver()
    fill = Fill.objects.get(order=order)
    # impact = 10 × √(10/39,000) = 0.160128 bps → 2.160128 bps → 50 × (1 − 0.000216) = 49.98920 → 49.98 (tick down)
    assert (fill.qty, fill.price, fill.commission) == (D(10), D("49.98"), D("1.000000"))


def test_limit_order_rests_until_price_crosses(db, sim_broker, sim_conf):
    # A bar that rises 10 → 20 over the 'always' day: at 06:00 NY (frac .25) the price is below 20.
    make_asset("UP", ohlc=("10", "20", "10", "20"))
    start = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)  # 06:00 New York
    with time_machine.travel(start, tick=False) as t:
        order = order_place(symbol="UP", side="sell", qty="5", order_type="limit", limit_price="19.5", source="api").order
        assert order.status == "accepted" and order.filled_qty == 0
        t.move_to(dt.datetime(2026, 3, 11, 2, 0, tzinfo=dt.UTC))  # 22:00 NY, same day: near the close
        sim_tick()
    order.refresh_from_db()
    assert order.status == "filled"
    assert Fill.objects.get().price >= D("19.5")


def test_nyse_mode_waits_for_the_open(aapl, sim_conf):
    broker = SimulatedBroker(market_hours="nyse")
    from orders.brokers import use_broker

    saturday = dt.datetime(2026, 3, 14, 15, 0, tzinfo=dt.UTC)
    with use_broker(broker), time_machine.travel(saturday, tick=False):
        order = order_place(symbol="AAPL", side="buy", qty="1", source="api", time_in_force="gtc").order
    assert (order.status, order.filled_qty) == ("accepted", D(0))
    with use_broker(broker), time_machine.travel(dt.datetime(2026, 3, 16, 14, 0, tzinfo=dt.UTC), tick=False):
        sim_tick()  # Monday 10:00 New York
    order.refresh_from_db()
    assert order.status == "filled"


def test_reject_rate_is_deterministic(aapl, sim_broker, frozen, sim_conf):
    sim_conf.sim_reject_rate = 1.0
    from orders.brokers.base import BrokerRejected

    with pytest.raises(BrokerRejected):
        order_place(symbol="AAPL", side="buy", qty="1", source="api")
    assert Order.objects.get().status == "rejected" and SimOrder.objects.count() == 0


def test_day_orders_expire_next_day(aapl, sim_broker, frozen):
    order = order_place(symbol="AAPL", side="buy", qty="1", order_type="limit", limit_price="50", source="api").order
    frozen.shift(24 * 3600)
    sim_tick()
    order.refresh_from_db()
    assert order.status == "expired"


def test_stale_cleanup_cancels_old_day_orders_only(aapl, sim_broker, frozen, deliver):
    old = order_place(symbol="AAPL", side="buy", qty="1", order_type="limit", limit_price="50", source="api").order
    gtc = order_place(symbol="AAPL", side="buy", qty="1", order_type="limit", limit_price="50", source="api",
                       time_in_force="gtc").order
    frozen.shift(14 * 60)
    young = order_place(symbol="AAPL", side="buy", qty="1", order_type="limit", limit_price="50", source="api").order
    frozen.shift(2 * 60)  # old is now 16 minutes old, young 2
    assert stale_orders_cancel() == 1
    deliver()  # the broker's cancel confirmation
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses == {old.pk: "canceled", gtc.pk: "accepted", young.pk: "accepted"}


def test_reconcile_flags_position_mismatch_and_orphans_and_snapshots(aapl, sim_broker, frozen, deliver):
    from orders.brokers.base import SubmitRequest
    from orders.models import Position

    order_place(symbol="AAPL", side="buy", qty="3", source="api")
    deliver()
    Position.objects.filter(symbol="AAPL").update(qty=D(5))  # ledger drift
    sim_broker.submit_order(SubmitRequest("orphan-1", "AAPL", "buy", D(1), "limit", "gtc", D("50")))
    report = reconcile_run()
    metrics = set(Alert.objects.values_list("metric", flat=True))
    assert {"position_mismatch", "orphan_broker_order"} <= metrics
    mismatch = Alert.objects.get(metric="position_mismatch")
    assert (D(mismatch.data["ledger"]), D(mismatch.data["broker"])) == (D(5), D(3))
    assert report.snapshot_id is not None


def test_a_replay_s_bars_in_memory_give_the_database_s_average_daily_volume():
    """A replay's exchange (PreloadedBars) and the live one (the database's bars) take the same ADV,
    also when some sessions have no volume (skipped, reaching further back) or a zero volume (counted)."""
    asset = Asset.objects.create(symbol="ADV", name="ADV")
    sessions = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(40)]
    volumes = [None if i % 7 == 3 else D(0) if i % 11 == 5 else D(1000 + 37 * i) for i in range(40)]
    Bar.objects.bulk_create([Bar(asset=asset, session=s, open=1, high=1, low=1, close=1, volume=v)
                             for s, v in zip(sessions, volumes, strict=True)])
    rows = [BarData(symbol="ADV", session=s, open=D(1), high=D(1), low=D(1),
                           close=D(1), volume=v) for s, v in zip(sessions, volumes, strict=True)]
    preloaded = PreloadedBars({"ADV": (sessions, rows)})
    for bar in rows[::3]:
        assert preloaded.adv(bar) == average_daily_volume(symbol="ADV", before=bar.session), bar.session
    assert preloaded.adv(rows[0]) is None  # nothing before the first session
