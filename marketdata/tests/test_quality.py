"""Quality gates on the real bundled data: splits recognised, injected jumps flagged, gaps, staleness."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from marketdata.models import Asset, Bar
from marketdata.panels import close_panel
from marketdata.quality import previous_session, quality_gaps, quality_large_moves, quality_report, quality_staleness

SPLITS = {("AAPL", dt.date(2000, 6, 21)), ("AAPL", dt.date(2005, 2, 28)), ("MSFT", dt.date(2003, 2, 18))}


def _by_check(findings, check):
    return {(f.symbol, f.session) for f in findings if f.check == check}


@pytest.mark.slow  # over 1.5 s here: kept out of make test-fast
def test_the_three_real_splits_are_derived_and_recognised_not_flagged(ohlcv_data):
    # given the raw OHLCV file loaded with splits derived from Close / Adj Close
    assert ohlcv_data[0].splits == 3

    # when the large-move gate runs
    findings = quality_large_moves()

    # then the three 2:1 splits explain their ~-50% moves and only AAPL's real crash of 2000-09-29 is flagged
    assert _by_check(findings, "large_move_explained") == SPLITS
    assert _by_check(findings, "large_move") == {("AAPL", dt.date(2000, 9, 29))}


def test_an_injected_40_percent_jump_without_a_corporate_action_is_flagged(ohlcv_data):
    # given IBM's close on 2010-06-02 replaced by the previous close × 1.40
    previous = Bar.objects.get(asset__symbol="IBM", session=dt.date(2010, 6, 1))
    bar = Bar.objects.get(asset__symbol="IBM", session=dt.date(2010, 6, 2))
    bar.close = bar.high = previous.close * Decimal("1.4")
    bar.save()

    findings = quality_large_moves(symbols=["IBM"])

    # then exactly that session is flagged, with the +40% move (the fall back the next day is -28.6%, under 30%)
    flagged = [f for f in findings if f.check == "large_move"]
    assert [(f.symbol, f.session) for f in flagged] == [("IBM", dt.date(2010, 6, 2))]
    assert flagged[0].value == 0.4


def test_backward_adjusted_close_divides_history_by_both_aapl_splits(ohlcv_data):
    panel = close_panel(symbols=["AAPL"])
    raw = close_panel(symbols=["AAPL"], adjusted=False)

    # 2000-03-01 is before both 2:1 splits: 130.31 / 4; 2005-02-25 is before the second only: raw / 2
    assert panel.loc["2000-03-01", "AAPL"] == 130.31 / 4
    assert panel.loc["2005-02-25", "AAPL"] == raw.loc["2005-02-25", "AAPL"] / 2
    assert panel.loc["2013-03-01", "AAPL"] == raw.loc["2013-03-01", "AAPL"]


@pytest.mark.slow  # over 1.5 s here: kept out of make test-fast
def test_the_bundled_ohlcv_series_have_no_gaps_against_the_nyse_calendar(ohlcv_data):
    assert quality_gaps() == []


def test_a_missing_session_and_an_off_calendar_bar_are_flagged(db):
    asset = Asset.objects.create(symbol="GAP")
    for day in (dt.date(2024, 7, 1), dt.date(2024, 7, 2), dt.date(2024, 7, 5), dt.date(2024, 7, 6)):
        Bar.objects.create(asset=asset, session=day, open=1, high=1, low=1, close=1)

    findings = quality_gaps(symbols=["GAP"])

    # 07-03 is a session (early close) with no bar, 07-04 is a holiday, 07-06 is a Saturday
    assert _by_check(findings, "gap") == {("GAP", dt.date(2024, 7, 3))}
    assert _by_check(findings, "off_calendar") == {("GAP", dt.date(2024, 7, 6))}


@pytest.mark.slow  # over 1.5 s here: kept out of make test-fast
def test_staleness_uses_the_previous_nyse_session(ohlcv_data):
    # the dataset ends on Friday 2013-03-01
    assert previous_session(today=dt.date(2013, 3, 4)) == dt.date(2013, 3, 1)
    assert quality_staleness(symbols=["IBM"], today=dt.date(2013, 3, 4)) == []

    with time_machine.travel(dt.datetime(2013, 3, 5, 15, 0, tzinfo=dt.UTC), tick=False):
        stale = quality_staleness(symbols=["IBM", "FB"])

    assert [(f.check, f.symbol, f.session) for f in stale] == [
        ("stale", "FB", dt.date(2013, 3, 1)),
        ("stale", "IBM", dt.date(2013, 3, 1)),
    ]


def test_quality_report_combines_the_gates(ohlcv_data):
    report = quality_report(symbols=["AAPL"], today=dt.date(2013, 3, 4))

    assert {f.check for f in report} == {"large_move", "large_move_explained"}


def test_data_quality_command_lists_the_findings(ohlcv_data):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("data_quality", "aapl", "--today", "2013-03-04", stdout=out)

    lines = out.getvalue().splitlines()
    assert [line.split()[:3] for line in lines[:-1]] == [
        ["large_move_explained", "AAPL", "2000-06-21"],
        ["large_move", "AAPL", "2000-09-29"],
        ["large_move_explained", "AAPL", "2005-02-28"],
    ]
    assert lines[-1] == "3 findings, 1 flagged"
