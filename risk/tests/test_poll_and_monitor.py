"""The risk poll task, the PDT counter over the ledger's fills, and the account monitor."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from orders.models import AccountSnapshot, Fill, Order
from orders.selectors import FillData, fills_between
from risk import services, tasks
from risk.account_monitor import account_status, pdt_check, pdt_status
from risk.models import RiskEvent
from risk.selectors import breaker_open
from risk.tests.conftest import T_OPEN
from trading_site.models import Alert

D = Decimal
pytestmark = pytest.mark.django_db


def _fill(execution_id: str, side: str, at: dt.datetime, symbol: str = "AAPL") -> Fill:
    """A filled order in the ledger, as the gateway books it (the day-trade counter reads these)."""
    order = Order.objects.create(client_order_id=f"c-{execution_id}", symbol=symbol, side=side, qty=D("1"),
                                 source="api", status="filled", filled_qty=D("1"), created_at=at, updated_at=at)
    return Fill.objects.create(order=order, execution_id=execution_id, symbol=symbol, side=side, qty=D("1"),
                               price=D("100"), executed_at=at, recorded_at=at)


def test_the_day_trade_counter_reads_the_ledger_by_new_york_session():
    # 00:30 UTC on 11 March is 20:30 on 10 March in New York: that fill belongs to the 10th
    late = dt.datetime(2026, 3, 11, 0, 30, tzinfo=dt.UTC)
    _fill("x1", "buy", late)
    _fill("x2", "sell", late + dt.timedelta(minutes=1))
    status = pdt_status(now=dt.datetime(2026, 3, 11, 15, tzinfo=dt.UTC), equity=D("20000"))
    assert status.day_trades == 1 and dt.date(2026, 3, 10) in status.window
    assert fills_between(start=late, end=late + dt.timedelta(minutes=1)) == [
        FillData(symbol="AAPL", side="buy", qty=D("1.000000000"), executed_at=late)
    ]


def test_poll_feeds_the_loss_breakers_from_the_account_snapshot(django_capture_on_commit_callbacks):
    AccountSnapshot.objects.create(time=T_OPEN, cash=D("0"), equity=D("100000"), buying_power=D("0"), broker="simulated")
    with time_machine.travel(T_OPEN, tick=False), django_capture_on_commit_callbacks(execute=True):
        first = tasks.risk_poll()
    assert first["daily_loss_pct"] == "0"
    AccountSnapshot.objects.create(time=T_OPEN + dt.timedelta(minutes=1), cash=D("0"), equity=D("97999.99"),
                                   buying_power=D("0"), broker="simulated")
    with time_machine.travel(T_OPEN + dt.timedelta(minutes=1), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        tasks.risk_poll()
    assert breaker_open(name="daily_loss") and not breaker_open(name="drawdown")


def _round_trips(days):
    n = 0
    for day in days:
        t = dt.datetime(day.year, day.month, day.day, 15, tzinfo=dt.UTC)
        for side, minutes in (("buy", 0), ("sell", 5)):
            n += 1
            _fill(f"e{n}", side, t + dt.timedelta(minutes=minutes))


def test_pdt_warning_before_the_fourth_day_trade_once_per_session(admin_user, django_capture_on_commit_callbacks):
    AccountSnapshot.objects.create(time=T_OPEN, cash=D("20000"), equity=D("20000"), buying_power=D("40000"),
                                   broker="alpaca")
    _round_trips([dt.date(2026, 3, 5), dt.date(2026, 3, 6), dt.date(2026, 3, 9)])
    # the rule is off by default (Alpaca no longer flags pattern day traders)
    assert pdt_check(now=T_OPEN) is None
    services.limits_update(actor=admin_user, reason="broker still applies PDT", changes={"pdt_rule_enabled": True})
    from django.core.cache import cache

    from risk.state import CACHE_KEY

    cache.delete(CACHE_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        status = pdt_check(now=T_OPEN)
        pdt_check(now=T_OPEN + dt.timedelta(minutes=5))
    assert (status.day_trades, status.warn, status.flagged) == (3, True, False)
    assert RiskEvent.objects.filter(kind="pdt_warning").count() == 1
    assert Alert.objects.filter(metric="pdt").count() == 1
    report = account_status(now=T_OPEN)
    assert report["pdt"]["day_trades"] == 3 and report["pdt"]["window"][0] == "2026-03-04"
    assert (report["equity"], report["buying_power"]) == ("20000.000000", "40000.000000")


def test_account_status_without_a_snapshot():
    assert account_status(now=T_OPEN) == {"available": False, "pdt_rule_enabled": False}
