"""Lots follow real fills: the listener, its idempotency, splits from market data, the orders path."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from marketdata.models import Asset, CorporateAction
from orders import events
from tax.models import AppliedSplit, RealizedGain, SymbolBook, TaxLot, TaxTrade, WashSale
from tax.services import lots_apply_fill, lots_apply_fills
from tax.tests.conftest import fill
from trading_site.models import Alert

pytestmark = pytest.mark.django_db

HISTORY = [
    # day, side, symbol, qty, price, trade_id
    ("2024-01-02", "buy", "AAA", "100", "10.00", "o1"),
    ("2024-01-03", "buy", "BBB", "50", "20.00", "o2"),
    ("2024-01-10", "buy", "AAA", "50", "11.00", "o3"),
    ("2024-02-01", "sell", "AAA", "120", "9.00", "o4"),  # FIFO: 100 of o1 + 20 of o3, both at a loss
    ("2024-02-05", "buy", "AAA", "40", "9.50", "o5"),  # replaces 40 loss shares
    ("2024-02-06", "sell", "BBB", "50", "25.00", "o6"),  # gain
    ("2024-02-07", "buy", "BBB", "10", "24.00", "o7"),  # gain sale: no wash
    ("2024-03-20", "sell", "AAA", "30", "12.00", "o8"),
    # a partial replacement splits c3; FIFO then relieves c3's remainder before its split-off child,
    # and a later buy matches the losses of the two pieces of one sale in relief order
    ("2024-04-01", "buy", "CCC", "10", "10.00", "c1"),
    ("2024-04-02", "sell", "CCC", "10", "8.00", "c2"),
    ("2024-04-03", "buy", "CCC", "30", "9.00", "c3"),
    ("2024-04-04", "sell", "CCC", "25", "7.00", "c4"),
    ("2024-04-06", "buy", "CCC", "3", "7.00", "c5"),
    ("2024-04-08", "sell", "CCC", "8", "6.00", "c6"),
    # a 2-for-1 split between a loss sale and the repurchase: the 10 open loss shares count as 20
    ("2024-05-01", "buy", "SPX", "10", "100.00", "x1"),
    ("2024-05-10", "sell", "SPX", "10", "80.00", "x2"),
    ("2024-05-20", "buy", "SPX", "15", "41.00", "x3"),
]


def _lots(account: str) -> list[tuple]:
    return [
        (
            lot.symbol,
            lot.trade_id,
            lot.seq,
            lot.sub,
            lot.acquired_date,
            lot.holding_period_start,
            lot.qty_original,
            lot.open_qty,
            lot.cost_basis_total,
            lot.wash_absorbed,
            lot.status,
        )
        for lot in TaxLot.objects.filter(account=account).order_by("symbol", "seq", "sub")
    ]


def _realized(account: str) -> list[tuple]:
    return [
        (
            r.symbol,
            r.sale_trade_id,
            r.lot_trade_id,
            r.qty,
            r.date_acquired,
            r.date_sold,
            r.proceeds,
            r.cost_basis,
            r.adjustment_amount,
            r.gain_loss,
            r.term,
            r.wash_open_qty,
            r.wash_open_loss,
        )
        for r in RealizedGain.objects.filter(account=account).order_by("symbol", "sale_seq", "piece")
    ]


def _washes(account: str) -> list[tuple]:
    return sorted(
        (
            w.symbol,
            w.sale_trade_id,
            w.lot_trade_id,
            w.replacement_trade_id,
            w.qty,
            w.disallowed_loss,
            w.holding_start_after,
        )
        for w in WashSale.objects.filter(account=account)
    )


def _trades(account: str) -> list[tuple]:
    return [
        (t.execution_id, t.trade_id, t.origin, t.symbol, t.side, t.qty, t.price, t.trade_date, t.executed_at,
         t.order_id, t.source, t.strategy, t.method, t.error)
        for t in TaxTrade.objects.filter(account=account).order_by("execution_id")
    ]  # fmt: skip


def test_fills_applied_in_bulk_equal_the_same_fills_applied_one_by_one():
    # Given the market's 2-for-1 split of SPX between a loss sale and its repurchase
    CorporateAction.objects.create(
        asset=Asset.objects.create(symbol="SPX"), ex_date=dt.date(2024, 5, 15), kind="split", ratio_from=1, ratio_to=2
    )
    events_of = [
        [
            fill(
                f"exec-{i}",
                day=day,
                side=side,
                symbol=symbol,
                qty=qty,
                price=price,
                trade_id=trade_id,
                account=account,
                order_id=i + 1,
            )
            for i, (day, side, symbol, qty, price, trade_id) in enumerate(HISTORY)
        ]  # fmt: skip
        for account in ("one", "bulk")
    ]
    # When one account gets them one fill at a time (the listener) and the other all at once (a replay's end)
    for event in events_of[0]:
        lots_apply_fill(event)
    result = lots_apply_fills(events=events_of[1], account="bulk")
    # Then lots, realized rows, wash sales and the trades recorded are identical, the split included
    assert _lots("bulk") == _lots("one") != []
    assert _realized("bulk") == _realized("one") != []
    assert _washes("bulk") == _washes("one") != []
    assert [t[1:] for t in _trades("bulk")] == [t[1:] for t in _trades("one")]
    assert {t[2] for t in _trades("bulk")} == {"fill"}
    assert result.trades == len(HISTORY) and result.splits == 1
    assert AppliedSplit.objects.filter(account="bulk").values_list("source", flat=True).get() == "market_data"
    # and an empty batch writes nothing
    assert lots_apply_fills(events=[], account="empty").trades == 0
    assert not TaxTrade.objects.filter(account="empty").exists()


def test_fills_yield_the_same_lots_as_importing_the_same_trades(run_import):
    # Given the history imported into one account
    csv_text = "date,side,symbol,qty,price,trade_id\n" + "\n".join(",".join(row) for row in HISTORY)
    run_import(
        csv_text,
        account="imported",
        corporate_actions="date,symbol,type,ratio_from,ratio_to\n2024-05-15,SPX,split,1,2",
    )
    CorporateAction.objects.create(
        asset=Asset.objects.create(symbol="SPX"), ex_date=dt.date(2024, 5, 15), kind="split", ratio_from=1, ratio_to=2
    )
    # When the same trades arrive as fills in another account
    for i, (day, side, symbol, qty, price, trade_id) in enumerate(HISTORY):
        lots_apply_fill(
            fill(
                f"exec-{i}", day=day, side=side, symbol=symbol, qty=qty, price=price, trade_id=trade_id, account="live"
            )
        )
    # Then lots, realized rows and wash sales are identical
    assert _lots("live") == _lots("imported")
    assert _realized("live") == _realized("imported")
    assert _washes("live") == _washes("imported")
    # and the figures are the hand-computed ones: o4 loses 100*(9-10) = -100 on o1 and 20*(9-11) = -40 on o3;
    # o5's 40 shares replace 40 of o1's loss shares: $40 disallowed, o5 basis 380 + 40 = 420
    realized = {(r[1], r[2]): r for r in _realized("live")}
    assert realized[("o4", "o1")][8:10] == (D("40"), D("-60"))
    assert realized[("o4", "o3")][8:10] == (D("0"), D("-40"))
    o5 = TaxLot.objects.get(account="live", trade_id="o5")
    # o1 was held 2024-01-02 → 02-01 (30 days), so o5's holding period starts 30 days before 02-05
    assert (o5.open_qty, o5.cost_basis_total, o5.holding_period_start) == (D(40), D(420), dt.date(2024, 1, 6))
    assert realized[("o8", "o3")][3] == D("30")  # FIFO: o3's remaining 30 go before o5
    # CCC: c2's $20 loss moves into 10 of c3's 30 shares (child basis 90 + 20 = 110); c4 sells the
    # 20-share remainder (basis 180, loss 40) then 5 of the child (basis 55, loss 20); c5's 3 shares
    # replace 3 shares of the first piece: $6
    ccc = [(r[1], r[3], r[7], r[8]) for r in _realized("live") if r[0] == "CCC"]
    assert ccc == [
        ("c2", D(10), D(100), D(20)),
        ("c4", D(20), D(180), D(6)),
        ("c4", D(5), D(55), D(0)),
        ("c6", D(5), D(55), D(0)),
        ("c6", D(3), D(27), D(0)),
    ]
    # SPX: $200 loss on 10 shares = 20 post-split shares; 15 replace → 200 x 15/20 = $150, basis 615 + 150
    (x2,) = [r for r in _realized("live") if r[1] == "x2"]
    assert x2[8:10] == (D(150), D(-50))
    assert TaxLot.objects.get(account="live", trade_id="x3").cost_basis_total == D(765)
    assert len(_washes("live")) == 4


def test_duplicate_fill_is_ignored():
    event = fill("e1", day="2024-01-02", side="buy", symbol="DUP", qty="10", price="5")
    assert lots_apply_fill(event) is not None
    assert lots_apply_fill(event) is None
    assert TaxLot.objects.filter(symbol="DUP").count() == 1 and TaxTrade.objects.filter(symbol="DUP").count() == 1


def test_trade_date_is_new_york_date():
    # 2024-03-01 02:00 UTC is still 2024-02-29 in New York
    event = fill("e1", day="2024-03-01", side="buy", symbol="NY", qty="1", price="5", hour=2)
    lots_apply_fill(event)
    assert TaxLot.objects.get(symbol="NY").acquired_date == dt.date(2024, 2, 29)


def test_sell_beyond_tax_position_keeps_the_fill_and_alerts():
    # Given no lots for the symbol (history not imported)
    event = fill("e1", day="2024-01-02", side="sell", symbol="NOLOTS", qty="10", price="5")
    # When the fill arrives, the listener does not raise (the fill's transaction survives)
    row = lots_apply_fill(event)
    # Then the trade is stored with the reason, nothing was relieved, and a critical alert is raised
    assert "exceeds the open position of 0" in row.error
    assert TaxTrade.objects.get(execution_id="e1").error == row.error
    assert RealizedGain.objects.count() == 0
    # and the book does not count the refused sale as its last applied trade
    assert SymbolBook.objects.get(symbol="NOLOTS").last_trade_date is None
    alert = Alert.objects.get(metric="tax_lot_error")
    assert alert.severity == "critical" and "NOLOTS" in alert.message


def test_market_data_split_is_applied_before_the_next_fill():
    # Given 10 shares bought before a 2-for-1 split recorded in the market data
    lots_apply_fill(fill("e1", day="2024-06-03", side="buy", symbol="SPL", qty="10", price="100"))
    asset = Asset.objects.create(symbol="SPL")
    CorporateAction.objects.create(asset=asset, ex_date=dt.date(2024, 6, 10), kind="split", ratio_from=1, ratio_to=2)
    # When 5 shares are sold after the ex-date
    lots_apply_fill(fill("e2", day="2024-06-12", side="sell", symbol="SPL", qty="5", price="55"))
    # Then the lot was 20 shares at $50: 5 sold for 275 with basis 250
    (row,) = RealizedGain.objects.filter(symbol="SPL")
    assert (row.qty, row.cost_basis, row.proceeds, row.gain_loss) == (D(5), D(250), D(275), D(25))
    lot = TaxLot.objects.get(symbol="SPL")
    assert (lot.open_qty, lot.cost_basis_total) == (D(15), D(750))
    assert AppliedSplit.objects.get(symbol="SPL").source == "market_data"
    # and applying again (a later fill) does not split twice
    lots_apply_fill(fill("e3", day="2024-06-13", side="sell", symbol="SPL", qty="5", price="55"))
    assert TaxLot.objects.get(symbol="SPL").open_qty == D(10)


def test_listener_is_registered_with_the_orders_contract():
    assert events._listeners["tax_lots"] is lots_apply_fill


def test_lots_follow_fills_through_the_orders_fill_service():
    from orders.brokers.base import BrokerOrder, TradeUpdate
    from orders.fills import trade_update_apply
    from orders.models import Order, OrderStatus

    ts = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)

    def order_and_fill(cid: str, side: str, qty: str, price: str, when: dt.datetime) -> None:
        order = Order.objects.create(
            client_order_id=cid,
            broker_order_id=f"b-{cid}",
            symbol="ORD",
            side=side,
            qty=D(qty),
            source="api",
            status=OrderStatus.ACCEPTED,
            created_at=when,
            updated_at=when,
        )
        trade_update_apply(
            update=TradeUpdate(
                event="fill",
                order=BrokerOrder(
                    broker_order_id=order.broker_order_id,
                    client_order_id=cid,
                    symbol="ORD",
                    side=side,
                    qty=D(qty),
                    status="filled",
                    filled_qty=D(qty),
                    filled_avg_price=D(price),
                ),
                timestamp=when,
                execution_id=f"x-{cid}",
                qty=D(qty),
                price=D(price),
            )
        )

    # Given a buy and a losing sell through the real fill service, then a repurchase 3 days later
    order_and_fill("cid-buy", "buy", "10", "50.00", ts)
    order_and_fill("cid-sell", "sell", "10", "45.00", ts + dt.timedelta(days=1))
    order_and_fill("cid-rebuy", "buy", "10", "46.00", ts + dt.timedelta(days=4))
    # Then the lots use the client_order_id as trade id and the $50 loss is washed into the new lot
    (row,) = RealizedGain.objects.filter(symbol="ORD")
    assert (row.sale_trade_id, row.lot_trade_id, row.adjustment_amount, row.gain_loss) == (
        "cid-sell",
        "cid-buy",
        D(50),
        D(0),
    )
    lot = TaxLot.objects.get(symbol="ORD", status="open")
    assert (lot.trade_id, lot.cost_basis_total, lot.holding_period_start) == ("cid-rebuy", D(510), dt.date(2026, 3, 13))


@pytest.mark.postgres
def test_fill_path_query_count_is_constant(django_assert_num_queries):
    # Given a book with 50 open lots
    for i in range(50):
        lots_apply_fill(fill(f"b{i}", day="2024-01-02", side="buy", symbol="QC", qty="1", price="10"))
    # When one sale closes all 50 (the COPY of the realized rows runs outside Django's cursor)
    with django_assert_num_queries(6):
        lots_apply_fill(fill("s1", day="2024-02-01", side="sell", symbol="QC", qty="50", price="9"))
    # Then every lot is closed with a single UPDATE, and 50 realized rows exist
    assert TaxLot.objects.filter(symbol="QC", status="open").count() == 0
    assert RealizedGain.objects.filter(symbol="QC").count() == 50


@pytest.mark.postgres
def test_fill_path_buy_statement_count(django_assert_num_queries):
    # Given a book that already exists
    lots_apply_fill(fill("b1", day="2024-01-02", side="buy", symbol="QB", qty="1", price="10"))
    # When a buy arrives (inside the fill's transaction, on the order hot path): lock the book, the
    # duplicate check, due splits, open lots, open losses, insert the trade, update the book — no
    # savepoint (the new lot's COPY runs outside Django's cursor)
    with django_assert_num_queries(7):
        lots_apply_fill(fill("b2", day="2024-01-03", side="buy", symbol="QB", qty="2", price="10"))
    # Then the lot is there
    assert TaxLot.objects.filter(symbol="QB", status="open").count() == 2


def test_splits_sync_applies_due_market_splits_once(django_assert_num_queries):
    from tax.services import splits_sync

    lots_apply_fill(fill("e1", day="2024-06-03", side="buy", symbol="SYN", qty="3", price="90"))
    lots_apply_fill(fill("e2", day="2024-06-03", side="buy", symbol="NOSPLIT", qty="1", price="5"))
    asset = Asset.objects.create(symbol="SYN")
    CorporateAction.objects.create(asset=asset, ex_date=dt.date(2024, 6, 10), kind="split", ratio_from=2, ratio_to=3)
    CorporateAction.objects.create(asset=asset, ex_date=dt.date(2024, 7, 1), kind="split", ratio_from=1, ratio_to=2)
    # only the split due by 2024-06-30 is applied: 3 shares → 4.5, basis 270 unchanged
    assert splits_sync(upto=dt.date(2024, 6, 30)) == 1
    # nothing left to apply: one query finds that, no book is locked
    with django_assert_num_queries(1):
        assert splits_sync(upto=dt.date(2024, 6, 30)) == 0
    lot = TaxLot.objects.get(symbol="SYN")
    assert (lot.open_qty, lot.cost_basis_total) == (D("4.5"), D(270))
    assert lot.adjustments.get().kind == "split"


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_concurrent_sales_of_one_symbol_are_serialised():
    import threading

    from django.db import connection

    # Given 100 shares
    lots_apply_fill(fill("b1", day="2024-01-02", side="buy", symbol="CC", qty="100", price="10"))
    barrier = threading.Barrier(2)
    errors = []

    def sell(execution_id: str) -> None:
        try:
            barrier.wait()
            lots_apply_fill(fill(execution_id, day="2024-02-01", side="sell", symbol="CC", qty="60", price="11"))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    # When two 60-share sales arrive at the same time in two workers
    threads = [threading.Thread(target=sell, args=(f"s{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then the book lock lets one relieve 60 shares; the other sees only 40 left and is flagged
    assert errors == []
    assert RealizedGain.objects.filter(symbol="CC").count() == 1
    assert TaxLot.objects.get(symbol="CC").open_qty == D(40)
    flagged = TaxTrade.objects.exclude(error="").get(symbol="CC")
    assert "exceeds the open position of 40" in flagged.error
