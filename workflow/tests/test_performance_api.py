"""GET /api/v1/performance/ and GET /api/v1/rebalance-runs/."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from orders.models import AccountSnapshot
from trading_site.lib.clock import NEW_YORK
from workflow.models import RebalanceRun, RebalanceStep


def snapshot(day: dt.date, hour: int, equity: str) -> None:
    AccountSnapshot.objects.create(
        time=dt.datetime.combine(day, dt.time(hour, 5), tzinfo=NEW_YORK), cash=Decimal("0"), equity=Decimal(equity),
        buying_power=Decimal("0"), broker="simulated",
    )


@pytest.mark.django_db
def test_performance_uses_the_last_snapshot_of_each_day(api_as, viewer):
    snapshot(dt.date(2024, 3, 4), 10, "999.00")
    snapshot(dt.date(2024, 3, 4), 16, "1000.00")
    snapshot(dt.date(2024, 3, 5), 16, "1100.00")
    snapshot(dt.date(2024, 3, 6), 16, "990.00")
    response = api_as(viewer).get("/api/v1/performance/")
    assert response.status_code == 200
    body = response.json()
    assert [d["date"] for d in body["days"]] == ["2024-03-04", "2024-03-05", "2024-03-06"]
    assert [d["pnl"] for d in body["days"]] == [None, 100.0, -110.0]
    assert body["days"][-1]["drawdown"] == pytest.approx(-0.1)
    assert body["metrics"]["total_return"] == pytest.approx(-0.01)
    assert body["metrics"]["max_drawdown"] == pytest.approx(-0.1)
    # a range that keeps only the first two days
    body = api_as(viewer).get("/api/v1/performance/?start=2024-03-04&end=2024-03-05").json()
    assert body["metrics"]["total_return"] == pytest.approx(0.1)


@pytest.mark.django_db
def test_performance_turnover_and_commissions_count_the_fills_of_the_curve_days(api_as, viewer):
    # given three days of equity (1000, 1100, 990) and fills: one before the curve starts, two inside
    # it, one the day after it ends
    from orders.models import Fill, Order

    snapshot(dt.date(2024, 3, 4), 16, "1000.00")
    snapshot(dt.date(2024, 3, 5), 16, "1100.00")
    snapshot(dt.date(2024, 3, 6), 16, "990.00")
    at = dt.datetime(2024, 3, 5, 11, 0, tzinfo=NEW_YORK)
    order = Order.objects.create(
        client_order_id="perf-1", symbol="IBM", side="buy", qty=Decimal("100"), source="manual",
        created_at=at, updated_at=at,
    )
    for execution_id, qty, price, commission, when in (
        ("before", "7", "90", "9.00", dt.datetime(2024, 3, 1, 11, 0, tzinfo=NEW_YORK)),
        ("a", "10", "100.50", "1.00", at),
        ("b", "5", "99.25", "0.50", at),
        ("after", "3", "101", "4.00", dt.datetime(2024, 3, 7, 10, 0, tzinfo=NEW_YORK)),
    ):
        Fill.objects.create(
            order=order, execution_id=execution_id, symbol="IBM", side="buy", qty=Decimal(qty),
            price=Decimal(price), commission=Decimal(commission), executed_at=when, recorded_at=when,
        )
    # when the performance is read
    metrics = api_as(viewer).get("/api/v1/performance/").json()["metrics"]
    # then traded notional = 10 × 100.50 + 5 × 99.25 = 1501.25; turnover = 1501.25 / 2 / 1030 × 252 / 2
    assert metrics["trades"] == 2
    assert metrics["commissions"] == 1.5
    assert metrics["turnover"] == pytest.approx(750.625 / 1030 * 126)
    # and a range that ends on day two leaves out nothing of day two
    metrics = api_as(viewer).get("/api/v1/performance/?end=2024-03-05").json()["metrics"]
    assert (metrics["trades"], metrics["commissions"]) == (2, 1.5)


@pytest.mark.django_db
def test_performance_rejects_bad_ranges_and_needs_a_login(api_as, api_client, viewer):
    assert api_as(viewer).get("/api/v1/performance/?start=2024-03-05&end=2024-03-04").status_code == 400
    assert api_as(viewer).get("/api/v1/performance/?window=2").status_code == 400
    assert api_client.get("/api/v1/performance/").status_code in (401, 403)
    assert api_client.get("/api/v1/rebalance-runs/").status_code in (401, 403)


@pytest.mark.django_db
def test_rebalance_runs_list_live_runs_with_steps(api_as, viewer, django_assert_max_num_queries):
    now = dt.datetime(2024, 3, 4, 20, 45, tzinfo=dt.UTC)
    for i in range(3):
        run = RebalanceRun.objects.create(day=dt.date(2024, 3, 4 + i), started_at=now, status="completed")
        RebalanceStep.objects.create(run=run, name="data", position=0, status="completed", started_at=now)
    RebalanceRun.objects.create(day=dt.date(2024, 3, 7), started_at=now, status="failed", failed_step="data",
                                error="stale data")
    RebalanceRun.objects.create(day=dt.date(2024, 3, 7), mode="replay", started_at=now)
    client = api_as(viewer)
    with django_assert_max_num_queries(6):
        body = client.get("/api/v1/rebalance-runs/").json()
    assert [r["day"] for r in body] == ["2024-03-07", "2024-03-06", "2024-03-05", "2024-03-04"]
    assert body[1]["steps"][0]["name"] == "data"
    failed = client.get("/api/v1/rebalance-runs/?status=failed").json()
    assert [(r["day"], r["failed_step"], r["error"]) for r in failed] == [("2024-03-07", "data", "stale data")]
