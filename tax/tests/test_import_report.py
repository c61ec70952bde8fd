"""tax_import and tax_report end to end on PostgreSQL: worked examples, 8949, bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal as D

import pytest
from django.core.management import CommandError

from tax.models import AppliedSplit, LotAdjustment, RealizedGain, SymbolBook, TaxLot, TaxTrade, WashSale
from trading_site.models import ActionLog

pytestmark = pytest.mark.django_db

PUB550 = """
date,side,symbol,qty,price,trade_id
2024-01-02,buy,XYZ,100,10.00,B1
2024-02-01,sell,XYZ,100,7.50,S1
2024-02-20,buy,XYZ,100,8.00,B2
"""


def test_pub550_example_import_and_json_report(run_import, report):
    # Given the Pub. 550 example as a broker history
    out = run_import(PUB550)
    assert "imported 3 trades" in out and "$250.00 disallowed" in out
    # When the JSON report is produced
    data = report()
    # Then the loss row carries code W and $250, gain_loss 0, and the new lot has basis $1,050
    assert data["realized"] == [
        {
            "sale_trade_id": "S1",
            "lot_trade_id": "B1",
            "symbol": "XYZ",
            "qty": "100",
            "date_acquired": "2024-01-02",
            "date_sold": "2024-02-01",
            "proceeds": "750.00",
            "cost_basis": "1000.00",
            "adjustment_code": "W",
            "adjustment_amount": "250.00",
            "gain_loss": "0.00",
            "term": "short",
        }
    ]
    # holding period tacked: 30 days held (01-02 → 02-01) → starts 2024-01-21
    assert data["open_lots"] == [
        {
            "lot_trade_id": "B2",
            "symbol": "XYZ",
            "qty": "100",
            "cost_basis_total": "1050.00",
            "holding_period_start": "2024-01-21",
        }
    ]
    assert data["wash_sales"] == [
        {
            "sale_trade_id": "S1",
            "lot_trade_id": "B1",
            "symbol": "XYZ",
            "qty": "100",
            "date_sold": "2024-02-01",
            "disallowed_loss": "250.00",
            "replacement_trade_id": "B2",
            "replacement_date_acquired": "2024-02-20",
            "holding_period_start": "2024-01-21",
        }
    ]
    assert data["totals"] == {"short_term_gain": "0.00", "long_term_gain": "0.00", "disallowed_loss": "250.00"}
    assert ActionLog.objects.filter(action="tax.import").count() == 1
    sale = TaxTrade.objects.get(trade_id="S1")
    assert (
        sale.execution_id,
        sale.origin,
        sale.side,
        sale.qty,
        sale.price,
        sale.trade_date,
        sale.source,
        sale.method,
        sale.executed_at,
        sale.order_id,
        sale.error,
    ) == ("import:S1", "import", "sell", D(100), D("7.5"), dt.date(2024, 2, 1), "import", "fifo", None, None, "")


def test_8949_shows_code_w_and_totals_equal_json(run_import, report):
    # Given a wash sale, a long-term gain and a plain short-term loss in 2024
    run_import(
        """
date,side,symbol,qty,price,trade_id,lot_ids,commission
2022-05-02,buy,AAA,10,50.00,A1,,1.00
2024-01-02,buy,XYZ,100,10.00,B1,,
2024-02-01,sell,XYZ,100,7.50,S1,,
2024-02-20,buy,XYZ,60,8.00,B2,,
2024-03-04,sell,AAA,10,70.00,A2,,1.00
2024-06-03,buy,CCC,5,20.00,C1,,
2024-07-01,sell,CCC,5,18.25,C2,,
"""
    )
    data = report(year=2024)
    text = report(fmt="8949", year=2024)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["part", "box", "(a) description of property", "(b) date acquired"]
    body = {(r[0], r[2]): r for r in rows[1:]}
    # the wash sale row: 100 sh, proceeds 750, basis 1000, code W, adjustment 150 (60 of 100 shares), h = -100
    assert body[("I", "100 sh XYZ")] == [
        "I",
        "A",
        "100 sh XYZ",
        "01/02/2024",
        "02/01/2024",
        "750.00",
        "1000.00",
        "W",
        "150.00",
        "-100.00",
    ]
    assert body[("II", "10 sh AAA")] == [
        "II",
        "D",
        "10 sh AAA",
        "05/02/2022",
        "03/04/2024",
        "699.00",
        "501.00",
        "",
        "",
        "198.00",
    ]
    part1, part2 = body[("I", "Totals")], body[("II", "Totals")]
    # Part I: XYZ -100.00 + CCC (91.25 - 100) = -108.75
    assert part1[9] == data["totals"]["short_term_gain"] == "-108.75"
    assert part2[9] == data["totals"]["long_term_gain"] == "198.00"
    assert str(D(part1[8]) + D(part2[8])) == data["totals"]["disallowed_loss"] == "150.00"


def test_specific_id_and_hifo_methods_through_the_import(run_import, report):
    trades = """
date,side,symbol,qty,price,trade_id,lot_ids
2023-01-03,buy,M,10,10,L1,
2023-01-04,buy,M,10,30,L2,
2023-01-05,buy,M,10,20,L3,
2023-09-01,sell,M,10,25,S1,L3
2023-09-02,sell,M,10,25,S2,
"""
    run_import(trades, method="hifo")
    rows = report()["realized"]
    # S1 names L3 (gain 50); S2 by HIFO takes L2 (loss 50, no replacement in the window)
    assert [(r["sale_trade_id"], r["lot_trade_id"], r["gain_loss"]) for r in rows] == [
        ("S1", "L3", "50.00"),
        ("S2", "L2", "-50.00"),
    ]


def test_split_between_buy_and_sell_from_the_corporate_actions_file(run_import, report):
    run_import(
        """
date,side,symbol,qty,price,trade_id
2020-01-02,buy,OLDCO,10,400.00,B1
2020-09-01,sell,OLDCO,20,110.00,S1
""",
        corporate_actions="""
date,symbol,type,ratio_from,ratio_to
2020-08-31,OLDCO,split,1,4
""",
    )
    data = report()
    # 10 sh at $400 become 40 sh with the same $4,000 basis; 20 sold: basis 2,000, proceeds 2,200
    assert [(r["qty"], r["cost_basis"], r["proceeds"], r["gain_loss"]) for r in data["realized"]] == [
        ("20", "2000.00", "2200.00", "200.00")
    ]
    assert data["open_lots"][0]["qty"] == "20" and data["open_lots"][0]["cost_basis_total"] == "2000.00"
    assert data["open_lots"][0]["holding_period_start"] == "2020-01-02"
    assert AppliedSplit.objects.get().lots_adjusted == 1
    assert LotAdjustment.objects.get().kind == "split"


def _counts() -> tuple[int, ...]:
    return tuple(
        m.objects.count()
        for m in (TaxTrade, TaxLot, RealizedGain, WashSale, LotAdjustment, AppliedSplit, SymbolBook, ActionLog)
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2024-03-01,buy,XYZ,-5,10.00,B9,", "line 4: qty must be greater than zero"),
        ("2024-03-01,sell,XYZ,150,10.00,S9,", "line 4: sell of 150 XYZ exceeds the open position of 100"),
        ("2024-03-01,sell,XYZ,10,10.00,S9,NOPE", "line 4: unknown lot id 'NOPE' for XYZ"),
        ("03/01/2024,buy,XYZ,5,10.00,B9,", "line 4: date '03/01/2024' is not in YYYY-MM-DD format"),
        ("2024-03-01,buy,XYZ,5,NaN,B9,", "line 4: price must be a finite number"),
        ("2024-03-01,short,XYZ,5,10.00,B9,", "line 4: side 'short' must be buy or sell"),
    ],
)
def test_bad_input_names_the_line_and_imports_nothing(run_import, row, message):
    # Given a ledger with one earlier import
    run_import("date,side,symbol,qty,price,trade_id\n2023-01-03,buy,XYZ,100,9.00,OLD1")
    before = _counts()
    # When a file with a bad 4th line is imported (lines 2-3 are fine)
    text = (
        "date,side,symbol,qty,price,trade_id,lot_ids\n"
        "2024-01-02,buy,ABC,10,10.00,B1,\n"
        "2024-01-03,sell,ABC,5,11.00,S1,\n"
        f"{row}\n"
    )
    with pytest.raises(CommandError) as err:
        run_import(text)
    # Then the error names the line and nothing changed
    assert message in str(err.value) and "nothing imported" in str(err.value)
    assert _counts() == before


def test_importing_the_same_trade_twice_is_refused(run_import):
    run_import(PUB550)
    before = _counts()
    with pytest.raises(CommandError, match="line 2: trade_id 'B1' is already in the ledger"):
        run_import(PUB550)
    assert _counts() == before


def test_report_year_filter_and_csv_format(run_import, report):
    run_import(
        """
date,side,symbol,qty,price,trade_id
2023-01-03,buy,K,10,10,B1
2023-06-01,sell,K,5,12,S1
2024-06-03,sell,K,5,13,S2
"""
    )
    assert [r["sale_trade_id"] for r in report(year=2023)["realized"]] == ["S1"]
    assert report(year=2024)["totals"] == {
        "short_term_gain": "0.00",
        "long_term_gain": "15.00",
        "disallowed_loss": "0.00",
    }
    text = report(fmt="csv")
    lines = text.strip().splitlines()
    assert lines[0].startswith("sale_trade_id,lot_trade_id,symbol,qty")
    assert lines[2] == "S2,B1,K,5,2023-01-03,2024-06-03,65.00,50.00,,0.00,15.00,long"


def test_header_only_file_imports_nothing(run_import):
    assert "imported 0 trades" in run_import("date,side,symbol,qty,price,trade_id")
    assert TaxLot.objects.count() == 0


def test_missing_column_and_unreadable_file_are_clear_errors(run_import):
    with pytest.raises(CommandError, match="line 1: missing column\\(s\\): trade_id"):
        run_import("date,side,symbol,qty,price\n2024-01-02,buy,X,1,1")
    with pytest.raises(CommandError, match="cannot read"):
        from django.core.management import call_command

        call_command("tax_import", "--trades", "/nonexistent/trades.csv")
