"""Tax-aware trading (preview, open windows, the optional pre-trade block), the API and the exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal as D

import pytest
import time_machine

from orders.pretrade import OrderIntent, PreTradeRejection
from tax import conf
from tax.exports import blotter_csv, compliance_report, compliance_report_csv, form8949_csv
from tax.models import RealizedGain, TaxExport, TaxLot
from tax.pretrade import wash_sale_check
from tax.selectors import wash_sale_preview, wash_sale_windows_open
from tax.services import lots_apply_fill
from tax.tasks import blotter_daily, compliance_monthly
from tax.tests.conftest import fill
from trading_site.audit import action_record

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2024, 3, 12, 15, 0, tzinfo=dt.UTC)  # 2024-03-12 11:00 New York


@pytest.fixture
def loss_then_nothing():
    """100 XYZ bought at $10, sold at $8 on 2024-03-01 ($200 loss, not yet replaced)."""
    lots_apply_fill(fill("e1", day="2024-01-02", side="buy", symbol="XYZ", qty="100", price="10"))
    lots_apply_fill(fill("e2", day="2024-03-01", side="sell", symbol="XYZ", qty="100", price="8"))


def test_preview_buy_would_wash_recent_loss(loss_then_nothing):
    preview = wash_sale_preview(symbol="xyz", side="buy", qty=D(60), price=D("8.50"), now=NOW)
    assert preview.would_wash and preview.disallowed_loss == D("120.00") and preview.shares == D(60)
    assert "would disallow $120.00" in preview.detail
    # and nothing was written
    assert RealizedGain.objects.get().adjustment_amount == 0 and TaxLot.objects.filter(status="open").count() == 0


def test_preview_loss_sale_washed_by_recent_buys():
    lots_apply_fill(fill("e1", day="2024-01-02", side="buy", symbol="ABC", qty="10", price="50"))
    lots_apply_fill(fill("e2", day="2024-03-01", side="buy", symbol="ABC", qty="4", price="45"))
    preview = wash_sale_preview(symbol="ABC", side="sell", qty=D(10), price=D(40), now=NOW)
    # FIFO sells the January lot: loss 100; the 4 shares bought 03-01 replace 4 of 10 → $40 at stake
    assert preview.realized_loss == D("100.00") and preview.disallowed_loss == D("40.00")
    assert preview.window_closes == dt.date(2024, 4, 11)


def test_preview_gain_sale_never_washes():
    lots_apply_fill(fill("e1", day="2024-01-02", side="buy", symbol="GN", qty="10", price="50"))
    lots_apply_fill(fill("e2", day="2024-03-01", side="buy", symbol="GN", qty="10", price="45"))
    preview = wash_sale_preview(symbol="GN", side="sell", qty=D(10), price=D(60), now=NOW)
    assert not preview.would_wash and preview.disallowed_loss == 0 and preview.window_closes is None


def test_windows_open_lists_symbol_and_closing_date(loss_then_nothing):
    assert wash_sale_windows_open(now=NOW) == [
        {
            "symbol": "XYZ",
            "closes_on": dt.date(2024, 3, 31),
            "days_left": 19,
            "shares": D(100),
            "loss_at_stake": D("200.00"),
        }
    ]
    # after day 30 the window is closed
    assert wash_sale_windows_open(now=dt.datetime(2024, 4, 1, 15, 0, tzinfo=dt.UTC)) == []


def _intent(side: str, qty: str, price: str | None, source: str = "api") -> OrderIntent:
    return OrderIntent(
        symbol="XYZ",
        side=side,
        qty=D(qty),
        order_type="market",
        time_in_force="day",
        source=source,
        now=NOW,
        reference_price=D(price) if price else None,
    )


def test_pretrade_block_is_off_by_default(loss_then_nothing, monkeypatch):
    monkeypatch.setattr(conf, "WASH_SALE_BLOCK", False)
    assert wash_sale_check(_intent("buy", "10", "8")) is None


def test_pretrade_block_rejects_wash_sale_buy_when_enabled(loss_then_nothing, monkeypatch):
    monkeypatch.setattr(conf, "WASH_SALE_BLOCK", True)
    with pytest.raises(PreTradeRejection) as err:
        wash_sale_check(_intent("buy", "10", None))
    assert err.value.code == "WASH_SALE" and err.value.data["disallowed_loss"] == "20.00"
    # a sell beyond the tax position is not this check's business
    assert wash_sale_check(_intent("sell", "10", "8")) is None
    # protective orders are never blocked
    assert wash_sale_check(_intent("buy", "10", None, source="kill_switch")) is None


# -- API ---------------------------------------------------------------------------------------------------
def test_api_requires_authentication(api_client):
    assert api_client.get("/api/v1/tax/lots/").status_code in (401, 403)
    assert api_client.post("/api/v1/tax/wash-sale-preview/", {}, format="json").status_code in (401, 403)


def test_api_viewer_reads_lots_realized_wash_sales_and_windows(viewer, api_as, loss_then_nothing):
    lots_apply_fill(fill("e3", day="2024-03-05", side="buy", symbol="XYZ", qty="30", price="9"))
    client = api_as(viewer)
    with time_machine.travel(NOW, tick=False):
        lots = client.get("/api/v1/tax/lots/").json()
        realized = client.get("/api/v1/tax/realized/?year=2024").json()
        washes = client.get("/api/v1/tax/wash-sales/").json()
        windows = client.get("/api/v1/tax/wash-sale-windows/").json()
    # the 30 new shares absorbed $60 of the $200 loss: basis 270 + 60
    assert [(lot["trade_id"], lot["open_qty"], lot["cost_basis_total"]) for lot in lots["results"]] == [
        ("e3", "30.000000000", "330.000000")
    ]
    (row,) = realized["results"]
    assert (row["adjustment_code"], row["adjustment_amount"], row["gain_loss"]) == ("W", "60.000000", "-140.000000")
    assert washes["results"][0]["disallowed_loss"] == "60.000000"
    assert windows == [
        {
            "symbol": "XYZ",
            "closes_on": "2024-03-31",
            "days_left": 19,
            "shares": "70.000000000",
            "loss_at_stake": "140.00",
        }
    ]
    assert client.get("/api/v1/tax/realized/?year=2023").json()["results"] == []
    assert client.get("/api/v1/tax/realized/?year=abc").status_code == 400


def test_api_preview_for_viewer_and_bad_input(viewer, api_as, loss_then_nothing):
    client = api_as(viewer)
    with time_machine.travel(NOW, tick=False):
        ok = client.post(
            "/api/v1/tax/wash-sale-preview/",
            {"symbol": "XYZ", "side": "buy", "qty": "100", "price": "8"},
            format="json",
        )
        bad = client.post(
            "/api/v1/tax/wash-sale-preview/", {"symbol": "XYZ", "side": "buy", "qty": "-1", "price": "8"}, format="json"
        )
        short = client.post(
            "/api/v1/tax/wash-sale-preview/", {"symbol": "XYZ", "side": "sell", "qty": "5", "price": "8"}, format="json"
        )
    assert ok.status_code == 200
    body = ok.json()
    assert (body["would_wash"], body["disallowed_loss"], body["shares"]) == (True, "200.00", "100.000000000")
    assert "FIFO" in body["method_note"] and "this account only" in body["method_note"]
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error" and "qty" in bad.json()["fields"]
    assert short.status_code == 409 and short.json()["code"] == "TAX_PREVIEW_INVALID"


# -- exports ------------------------------------------------------------------------------------------------------
def test_blotter_lists_fills_with_lot_relief_and_split_footnotes():
    from marketdata.models import Asset, CorporateAction

    lots_apply_fill(fill("e1", day="2024-01-02", side="buy", symbol="BL", qty="10", price="100", trade_id="buy-1"))
    CorporateAction.objects.create(
        asset=Asset.objects.create(symbol="BL"), ex_date=dt.date(2024, 2, 1), kind="split", ratio_from=1, ratio_to=2
    )
    lots_apply_fill(
        fill(
            "e2",
            day="2024-03-01",
            side="sell",
            symbol="BL",
            qty="5",
            price="60",
            trade_id="sell-1",
            commission="1.00",
            order_id=7,
            strategy="momentum",
        )
    )
    rows = list(csv.reader(io.StringIO(blotter_csv(day=dt.date(2024, 3, 1)))))
    header, trade, footnote = rows
    record = dict(zip(header, trade, strict=True))
    assert (record["trade_id"], record["order_id"], record["strategy"], record["source"]) == (
        "sell-1",
        "7",
        "momentum",
        "signal",
    )
    # 5 of the 20 post-split shares (basis 1000/20 = 50 each): proceeds 300 - 1 = 299, basis 250
    assert record["lot_relief"] == "buy-1:5@2024-01-02" and record["realized_gain_loss"] == "49.00"
    assert record["notes"] == "[1]"
    assert footnote[:2] == [
        "[1]",
        "lot buy-1 (BL) adjusted for a split effective 2024-02-01: 10 → 20 shares, basis unchanged",
    ]


def test_blotter_task_stores_the_download_idempotently():
    lots_apply_fill(fill("e1", day="2024-03-12", side="buy", symbol="TT", qty="1", price="5"))
    with time_machine.travel(dt.datetime(2024, 3, 12, 21, 0, tzinfo=dt.UTC), tick=False):
        assert blotter_daily() == "blotter-2024-03-12.csv"
        blotter_daily()
    export = TaxExport.objects.get(kind="blotter")
    assert export.period == "2024-03-12" and "e1" in export.content


def test_compliance_report_month(operator):
    # Given a day trade, a washed loss and actions from other apps in March 2024
    lots_apply_fill(fill("e1", day="2024-03-04", side="buy", symbol="DT", qty="10", price="10", trade_id="o1", hour=14))
    lots_apply_fill(fill("e2", day="2024-03-04", side="sell", symbol="DT", qty="10", price="9", trade_id="o2", hour=15))
    lots_apply_fill(fill("e3", day="2024-03-05", side="buy", symbol="DT", qty="10", price="9", trade_id="o3"))
    from orders.models import Order, OrderEvent

    rejected_at = dt.datetime(2024, 3, 5, 15, 0, tzinfo=dt.UTC)
    order = Order.objects.create(
        client_order_id="rej-1",
        symbol="DT",
        side="buy",
        qty=D(500),
        source="api",
        status="rejected",
        created_at=rejected_at,
        updated_at=rejected_at,
        reject_code="MAX_ORDER_NOTIONAL",
    )
    OrderEvent.objects.create(
        order=order,
        created_at=rejected_at,
        kind="pretrade_rejected",
        data={"code": "MAX_ORDER_NOTIONAL", "detail": "notional 5000 > 1000"},
    )
    with time_machine.travel(dt.datetime(2024, 3, 6, 15, 0, tzinfo=dt.UTC), tick=False):
        action_record(actor=operator, action="circuit_breaker.reset", reason="not a breach")
        action_record(actor=operator, action="kill_switch.engage", reason="runaway strategy")
        action_record(
            actor=operator, action="order.manual", object_type="orders.order", object_id="9", reason="rebalance by hand"
        )
        action_record(actor=None, action="circuit_breaker.trip", reason="daily loss 2%")
        action_record(actor=operator, action="strategy.toggle", reason="not a compliance item")
    report = compliance_report(month="2024-03")
    assert report["realized"] == {
        "short_term_gain": "0.00",
        "long_term_gain": "0.00",
        "disallowed_loss": "10.00",
        "rows": 1,
    }
    assert [w["disallowed_loss"] for w in report["wash_sales"]] == ["10.00"]
    assert report["day_trades"] == {"count": 1, "days": [{"date": "2024-03-04", "symbol": "DT", "count": 1}]}
    assert [a["reason"] for a in report["kill_switch_events"]] == ["runaway strategy"]
    assert [(a["actor"], a["reason"]) for a in report["manual_orders"]] == [("operator1", "rebalance by hand")]
    assert [a["action"] for a in report["limit_breaches"]] == [
        "pretrade.reject:MAX_ORDER_NOTIONAL",
        "circuit_breaker.trip",
    ]
    assert report["limit_breaches"][0]["data"] == {
        "symbol": "DT",
        "side": "buy",
        "qty": "500.000000000",
        "source": "api",
    }
    assert "this account only" in report["coverage"]
    text = compliance_report_csv(month="2024-03")
    assert "manual_order,order.manual,operator1" in text and "day_trades,count,1," in text
    with time_machine.travel(dt.datetime(2024, 4, 1, 10, 0, tzinfo=dt.UTC), tick=False):
        assert compliance_monthly() == "compliance-2024-03.csv"
    assert compliance_report(month="2024-02")["day_trades"]["count"] == 0
    with pytest.raises(ValueError, match="YYYY-MM"):
        compliance_report(month="March")


def test_form8949_csv_selector_for_the_console(run_import):
    run_import("date,side,symbol,qty,price,trade_id\n2024-01-02,buy,Q,1,10,B1\n2024-02-01,sell,Q,1,12,S1")
    lines = form8949_csv(year=2024).strip().splitlines()
    assert lines[1] == "I,A,1 sh Q,01/02/2024,02/01/2024,12.00,10.00,,,2.00"
    assert lines[2] == "I,A,Totals,,,12.00,10.00,,0.00,2.00"
    assert lines[3] == "II,D,Totals,,,0.00,0.00,,0.00,0.00"


def test_beat_entries_registered_in_new_york_time():
    from trading_site.beat import BEAT_SCHEDULE

    entry = BEAT_SCHEDULE["tax-daily-blotter"]
    assert entry["task"] == "tax.blotter_daily" and entry["options"]["queue"] == "reports"
    assert entry["schedule"].hour == {16} and entry["schedule"].minute == {30}
