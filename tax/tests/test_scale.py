"""The import at scale: written in parts while the engine runs, the same ledger as in one write;
progress on a terminal only."""

from __future__ import annotations

import datetime as dt
import io
import random

import pytest
from django.core.management import call_command

from tax import services
from tax.models import LotAdjustment, RealizedGain, TaxLot, WashSale

pytestmark = [pytest.mark.slow, pytest.mark.django_db]  # imports at scale: over ~2 s


def _history(seed: int, start: dt.date, n: int, prefix: str) -> str:
    """A busy two-symbol history: many losses repurchased within 30 days (fragmented wash sales)."""
    rng = random.Random(seed)
    price = {"AA": 50.0, "BB": 20.0}
    held = {"AA": 0, "BB": 0}
    lines = ["date,side,symbol,qty,price,trade_id,commission"]
    for i in range(n):
        day = start + dt.timedelta(days=i // 3)
        s = rng.choice(["AA", "BB"])
        price[s] = max(1.0, price[s] * (1 + rng.gauss(0, 0.03)))
        qty = rng.randint(1, 40)
        side = "sell" if held[s] >= qty and rng.random() < 0.45 else "buy"
        held[s] += qty if side == "buy" else -qty
        lines.append(f"{day},{side},{s},{qty},{price[s]:.2f},{prefix}{i},{'1.00' if i % 4 == 0 else ''}")
    return "\n".join(lines) + "\n"


def _ledger(account: str) -> dict:
    lots = TaxLot.objects.filter(account=account)
    return {
        "lots": sorted(
            lots.values_list(
                "symbol",
                "trade_id",
                "seq",
                "sub",
                "open_qty",
                "cost_basis_total",
                "holding_period_start",
                "wash_absorbed",
                "status",
                "qty_original",
                "basis_original",
            )  # fmt: skip
        ),
        "realized": sorted(
            RealizedGain.objects.filter(account=account).values_list(
                "sale_trade_id",
                "lot_trade_id",
                "qty",
                "proceeds",
                "cost_basis",
                "adjustment_amount",
                "gain_loss",
                "term",
                "wash_open_qty",
                "wash_open_loss",
                "holding_period_start",
            )  # fmt: skip
        ),
        "washes": sorted(
            WashSale.objects.filter(account=account).values_list(
                "sale_trade_id",
                "lot_trade_id",
                "replacement_trade_id",
                "qty",
                "disallowed_loss",
                "holding_start_before",
                "holding_start_after",
            )  # fmt: skip
        ),
        "adjustments": sorted(
            LotAdjustment.objects.filter(lot__account=account).values_list(
                "lot__trade_id",
                "lot__sub",
                "kind",
                "day",
                "qty_before",
                "qty_after",
                "basis_before",
                "basis_after",
                "holding_start_before",
                "holding_start_after",
            )  # fmt: skip
        ),
    }


def test_import_written_in_parts_is_the_ledger_written_at_once(run_import, monkeypatch):
    first = _history(7, dt.date(2024, 1, 2), 150, "a")
    second = _history(8, dt.date(2024, 3, 1), 150, "b")  # on top: loaded lots and open losses change
    # Given the same two imports, once written at the end and once in parts of 4 events
    run_import(first, account="whole")
    run_import(second, account="whole")
    monkeypatch.setattr(services, "FLUSH_EVERY", 4)
    run_import(first, account="parts")
    run_import(second, account="parts")
    # Then the ledgers are the same row for row, wash sales included
    whole, parts = _ledger("whole"), _ledger("parts")
    assert len(whole["washes"]) > 20 and len(whole["realized"]) > 50
    assert parts == whole
    # And every reference between ledger rows resolves (the database does not check these FKs)
    lots = TaxLot.objects.values("id")
    assert not TaxLot.objects.exclude(root_id__in=lots).exists()
    assert not TaxLot.objects.exclude(parent_id=None).exclude(parent_id__in=lots).exists()
    assert not RealizedGain.objects.exclude(lot_id__in=lots).exists()
    assert not WashSale.objects.exclude(realized_id__in=RealizedGain.objects.values("id")).exists()
    assert not WashSale.objects.exclude(replacement_lot_id__in=lots).exists()
    assert not LotAdjustment.objects.exclude(lot_id__in=lots).exists()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_with_percent_and_time_left_on_a_terminal_only(write_csv, tmp_path):
    trades = write_csv("t.csv", _history(9, dt.date(2024, 1, 2), 60, "p"))
    # On a terminal: the bar, percent done and time left, on stderr
    terminal = _Terminal()
    call_command("tax_import", "--trades", trades, stdout=io.StringIO(), stderr=terminal)
    assert "importing" in terminal.getvalue() and "100%" in terminal.getvalue() and "left" in terminal.getvalue()
    terminal = _Terminal()
    out = tmp_path / "r.csv"
    call_command("tax_report", "--format", "8949", "--output", str(out), stdout=io.StringIO(), stderr=terminal)
    assert "tax report" in terminal.getvalue() and "100%" in terminal.getvalue()
    assert out.read_text().startswith("part,box,")
    # Not on a terminal, nor when the report itself is printed on the terminal
    quiet = io.StringIO()
    call_command("tax_report", "--format", "csv", stdout=io.StringIO(), stderr=quiet)
    printed, beside = _Terminal(), _Terminal()
    call_command("tax_report", "--format", "json", stdout=printed, stderr=beside)
    assert quiet.getvalue() == "" and beside.getvalue() == ""
    assert printed.getvalue().startswith('{\n  "realized": [')
