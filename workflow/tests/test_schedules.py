"""The workflow calendar: NYSE trading days in New York time, early closes, DST, holidays, weekends."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from trading_site.beat import BEAT_SCHEDULE
from trading_site.lib.clock import NEW_YORK
from workflow.models import RebalanceRun
from workflow.schedules import ENTRIES, before_closes, due
from workflow.tasks import rebalance_tick


def ny(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (ny(2025, 1, 15, 15, 45), dt.date(2025, 1, 15)),  # EST (UTC-5): 20:45 UTC
        (ny(2025, 7, 15, 15, 45), dt.date(2025, 7, 15)),  # EDT (UTC-4): 19:45 UTC
        (ny(2025, 11, 28, 12, 45), dt.date(2025, 11, 28)),  # day after Thanksgiving: close 13:00
        (ny(2025, 11, 28, 15, 45), None),  # after that early close
        (ny(2025, 7, 15, 12, 45), None),  # a normal day's 12:45 firing does nothing
        (ny(2025, 7, 4, 15, 45), None),  # Independence Day
        (ny(2025, 7, 5, 15, 45), None),  # Saturday
        (ny(2025, 7, 6, 15, 45), None),  # Sunday
        (ny(2025, 7, 15, 15, 44), None),  # a minute early
    ],
)
def test_rebalance_is_due_at_15_45_or_15_minutes_before_an_early_close(when, expected):
    assert due("rebalance", when.astimezone(dt.UTC)) == expected


@pytest.mark.parametrize(
    ("kind", "when", "expected"),
    [
        ("market_open", ny(2025, 3, 10, 9, 30), dt.date(2025, 3, 10)),  # first EDT day after the switch
        ("market_open", ny(2025, 3, 7, 9, 30), dt.date(2025, 3, 7)),  # last EST Friday
        ("market_close", ny(2025, 11, 28, 13, 5), dt.date(2025, 11, 28)),
        ("market_close", ny(2025, 11, 28, 16, 5), None),
        ("market_close", ny(2025, 11, 26, 16, 5), dt.date(2025, 11, 26)),
        ("market_close", ny(2025, 12, 25, 16, 5), None),
    ],
)
def test_market_open_and_close_moments(kind, when, expected):
    assert due(kind, when.astimezone(dt.UTC)) == expected


def test_beat_entries_fire_at_every_candidate_minute_in_new_york_time():
    # The crontabs are interpreted in CELERY_TIMEZONE (America/New_York); they cover both candidate minutes.
    entry = ENTRIES["workflow-rebalance"]["schedule"]
    assert entry.hour == {12, 15} and entry.minute == {45} and entry.day_of_week == {1, 2, 3, 4, 5}
    close = ENTRIES["workflow-market-close"]["schedule"]
    assert close.hour == {13, 16} and close.minute == {5}
    assert set(ENTRIES) <= set(BEAT_SCHEDULE)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("when", "fires"),
    [
        (ny(2025, 1, 15, 15, 45, 2), True),
        (ny(2025, 7, 15, 15, 45, 2), True),
        (ny(2025, 11, 28, 12, 45, 2), True),
        (ny(2025, 11, 28, 15, 45, 2), False),
        (ny(2025, 7, 4, 15, 45, 2), False),
        (ny(2025, 7, 5, 15, 45, 2), False),
    ],
)
def test_rebalance_task_under_time_machine(when, fires):
    # given the clock at a beat firing; when the task runs; then a run exists only on the right minute
    with time_machine.travel(when, tick=False):
        result = rebalance_tick()
    runs = list(RebalanceRun.objects.values_list("day", flat=True))
    if fires:
        assert runs == [when.date()] and result is not None
    else:
        assert runs == [] and result is None


@pytest.mark.parametrize(
    ("minutes", "hours", "minute"),
    [(15, {12, 15}, {45}), (30, {12, 15}, {30}), (1, {12, 15}, {59}), (60, {12, 15}, {0}), (90, {11, 14}, {30})],
)
def test_rebalance_crontab_follows_the_minutes_before_close_setting(minutes, hours, minute):
    # the beat must fire on the minute due() accepts, whatever REBALANCE_MINUTES_BEFORE_CLOSE is
    entry = before_closes(minutes)
    assert entry.hour == hours and entry.minute == minute and entry.day_of_week == {1, 2, 3, 4, 5}
