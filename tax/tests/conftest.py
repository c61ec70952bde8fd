"""Helpers for the tax tests: write CSV files, run the commands, build fill events."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from orders.events import FillEvent

UTC = dt.UTC


@pytest.fixture
def write_csv(tmp_path):
    def write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text.strip() + "\n")
        return str(path)

    return write


@pytest.fixture
def run_import(write_csv):
    def run(
        trades: str, *, corporate_actions: str | None = None, method: str | None = None, account: str | None = None
    ):
        args = ["--trades", write_csv("trades.csv", trades)]
        if corporate_actions:
            args += ["--corporate-actions", write_csv("ca.csv", corporate_actions)]
        if method:
            args += ["--method", method]
        if account:
            args += ["--account", account]
        out = io.StringIO()
        call_command("tax_import", *args, stdout=out)
        return out.getvalue()

    return run


@pytest.fixture
def report():
    def run(*, fmt: str = "json", year: int | None = None):
        out = io.StringIO()
        args = ["--format", fmt] + (["--year", str(year)] if year else [])
        call_command("tax_report", *args, stdout=out)
        return json.loads(out.getvalue()) if fmt == "json" else out.getvalue()

    return run


def fill(
    execution_id: str,
    *,
    day: str,
    side: str,
    symbol: str,
    qty,
    price,
    trade_id: str | None = None,
    commission="0",
    account: str = "default",
    hour: int = 15,
    source: str = "signal",
    strategy: str = "sma",
    order_id: int = 1,
) -> FillEvent:
    return FillEvent(
        execution_id=execution_id,
        order_id=order_id,
        client_order_id=trade_id or execution_id,
        symbol=symbol,
        side=side,
        qty=Decimal(str(qty)),
        price=Decimal(str(price)),
        commission=Decimal(commission),
        executed_at=dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, 0), tzinfo=UTC),
        source=source,
        strategy=strategy,
        account=account,
    )
