import datetime as dt

from marketdata import market_clock as mc

UTC = dt.UTC


def test_regular_session_boundaries_in_utc_follow_dst():
    # given Friday 8 March 2024 (EST, UTC-5) and Monday 11 March 2024 (EDT, UTC-4)
    # then the 09:30 open is 14:30 UTC before the change and 13:30 UTC after it
    assert mc.session_for(dt.date(2024, 3, 8)).open == dt.datetime(2024, 3, 8, 14, 30, tzinfo=UTC)
    assert mc.session_for(dt.date(2024, 3, 11)).open == dt.datetime(2024, 3, 11, 13, 30, tzinfo=UTC)
    assert mc.is_open(dt.datetime(2024, 3, 11, 13, 30, tzinfo=UTC))
    assert not mc.is_open(dt.datetime(2024, 3, 11, 13, 29, 59, tzinfo=UTC))


def test_early_close_day_after_thanksgiving():
    # given Friday 29 November 2024, a 13:00 New York close (18:00 UTC)
    day = dt.date(2024, 11, 29)
    assert mc.session_close(day) == dt.datetime(2024, 11, 29, 18, 0, tzinfo=UTC)
    assert mc.session_for(day).early_close
    assert mc.is_open(dt.datetime(2024, 11, 29, 17, 59, tzinfo=UTC))
    assert not mc.is_open(dt.datetime(2024, 11, 29, 18, 0, tzinfo=UTC))
    # after-hours end four hours after the early close (17:00 New York = 22:00 UTC)
    assert mc.is_open(dt.datetime(2024, 11, 29, 21, 59, tzinfo=UTC), extended=True)
    assert not mc.is_open(dt.datetime(2024, 11, 29, 22, 0, tzinfo=UTC), extended=True)


def test_holiday_and_weekend_are_closed_and_next_open_skips_them():
    # given Independence Day 2024 (Thursday) at noon New York
    noon = dt.datetime(2024, 7, 4, 16, 0, tzinfo=UTC)
    assert not mc.is_session(dt.date(2024, 7, 4))
    assert not mc.is_open(noon)
    assert not mc.is_open(noon, extended=True)
    assert mc.next_open(noon) == dt.datetime(2024, 7, 5, 13, 30, tzinfo=UTC)
    # Saturday → Monday's open; during a session next_close is today's close
    assert mc.next_open(dt.datetime(2024, 7, 6, 15, 0, tzinfo=UTC)) == dt.datetime(2024, 7, 8, 13, 30, tzinfo=UTC)
    assert mc.next_close(dt.datetime(2024, 7, 8, 15, 0, tzinfo=UTC)) == dt.datetime(2024, 7, 8, 20, 0, tzinfo=UTC)
    # during a session next_open is the next day's open; after the close, next_close is the next day's close
    assert mc.next_open(dt.datetime(2024, 7, 8, 15, 0, tzinfo=UTC)) == dt.datetime(2024, 7, 9, 13, 30, tzinfo=UTC)
    assert mc.next_close(dt.datetime(2024, 7, 8, 20, 0, tzinfo=UTC)) == dt.datetime(2024, 7, 9, 20, 0, tzinfo=UTC)
    # the day before Independence Day closes early (13:00 New York = 17:00 UTC), and the holiday is skipped
    assert mc.next_close(noon - dt.timedelta(days=1)) == dt.datetime(2024, 7, 3, 17, 0, tzinfo=UTC)
    assert mc.next_close(dt.datetime(2024, 7, 3, 18, 0, tzinfo=UTC)) == dt.datetime(2024, 7, 5, 20, 0, tzinfo=UTC)


def test_extended_hours_window():
    # 04:00 New York (EDT) = 08:00 UTC; 20:00 New York = 24:00 UTC
    assert not mc.is_open(dt.datetime(2024, 7, 8, 7, 59, tzinfo=UTC), extended=True)
    assert mc.is_open(dt.datetime(2024, 7, 8, 8, 0, tzinfo=UTC), extended=True)
    assert not mc.is_open(dt.datetime(2024, 7, 8, 8, 0, tzinfo=UTC))
    assert mc.is_open(dt.datetime(2024, 7, 8, 23, 59, tzinfo=UTC), extended=True)


def test_sessions_window_skips_holiday():
    # the five sessions ending Monday 8 July 2024 skip Thursday 4 July
    assert mc.sessions_window(ending=dt.date(2024, 7, 8), count=5) == [
        dt.date(2024, 7, 1), dt.date(2024, 7, 2), dt.date(2024, 7, 3), dt.date(2024, 7, 5), dt.date(2024, 7, 8),
    ]
    assert mc.previous_session(dt.date(2024, 7, 5)) == dt.date(2024, 7, 3)
    assert mc.current_or_previous_session(dt.datetime(2024, 7, 4, 16, 0, tzinfo=UTC)) == dt.date(2024, 7, 3)


def test_always_open_policy_only_for_the_simulated_broker(settings):
    saturday = dt.datetime(2024, 7, 6, 15, 0, tzinfo=UTC)
    settings.BROKER, settings.SIM_MARKET_HOURS = "simulated", "always"
    assert mc.market_open_for_orders(saturday)
    settings.SIM_MARKET_HOURS = "nyse"
    assert not mc.market_open_for_orders(saturday)
    settings.BROKER, settings.SIM_MARKET_HOURS = "alpaca", "always"
    assert not mc.market_open_for_orders(saturday)
