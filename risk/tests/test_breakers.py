"""Circuit breakers: worked examples crossing exactly -2% daily and -5% from peak; latching; resets."""

import datetime as dt
from decimal import Decimal

import pytest

from risk import services
from risk.models import CircuitBreaker, EquityWatermark, RiskEvent
from risk.selectors import breaker_open
from risk.services import RiskPermissionDenied, RiskStateError, loss_check
from trading_site.models import ActionLog, Alert

D = Decimal
UTC = dt.UTC
# Tuesday 10 and Wednesday 11 March 2026, 11:00 New York.
DAY1 = dt.datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
DAY2 = dt.datetime(2026, 3, 11, 15, 0, tzinfo=UTC)


def test_daily_loss_trips_at_exactly_minus_two_percent():
    # start of day 100,000.00: the limit is 98,000.00
    just_above = loss_check(equity=D("98000.01"), start_of_day=D("100000"), peak=D("100000"),
                            daily_limit=D("0.02"), drawdown_limit=D("0.05"))
    assert not just_above.daily_tripped
    assert just_above.daily_loss_pct == D("-0.0199999")
    exactly = loss_check(equity=D("98000.00"), start_of_day=D("100000"), peak=D("100000"),
                         daily_limit=D("0.02"), drawdown_limit=D("0.05"))
    assert exactly.daily_tripped and exactly.daily_loss_pct == D("-0.02")
    assert not exactly.drawdown_tripped


def test_drawdown_trips_at_exactly_minus_five_percent_from_peak():
    # peak 110,000.00: the limit is 104,500.00 (start of day 105,000 so the daily loss stays under 2%)
    above = loss_check(equity=D("104500.01"), start_of_day=D("105000"), peak=D("110000"),
                       daily_limit=D("0.02"), drawdown_limit=D("0.05"))
    assert not above.drawdown_tripped and not above.daily_tripped
    at = loss_check(equity=D("104500.00"), start_of_day=D("105000"), peak=D("110000"),
                    daily_limit=D("0.02"), drawdown_limit=D("0.05"))
    assert at.drawdown_tripped and at.drawdown_pct == D("-0.05")
    assert not at.daily_tripped  # 104,500 / 105,000 - 1 = -0.476%


@pytest.mark.django_db
def test_equity_path_trips_drawdown_across_sessions_and_latches(django_capture_on_commit_callbacks):
    # given equity rising to a 110,000 peak on day 1
    with django_capture_on_commit_callbacks(execute=True):
        services.equity_observe(equity=D("100000"), now=DAY1)
        services.equity_observe(equity=D("110000"), now=DAY1 + dt.timedelta(hours=1))
        # day 2 opens at 106,000 (start of day), falls to 104,500.01: -1.41% daily, -4.99999% from peak
        services.equity_observe(equity=D("106000"), now=DAY2)
        services.equity_observe(equity=D("104500.01"), now=DAY2 + dt.timedelta(minutes=1))
    assert not breaker_open()
    mark = EquityWatermark.objects.get()
    assert (mark.session, mark.start_of_day_equity, mark.peak_equity) == (dt.date(2026, 3, 11), D("106000"), D("110000"))
    # when it touches 104,500.00 exactly
    with django_capture_on_commit_callbacks(execute=True):
        result = services.equity_observe(equity=D("104500.00"), now=DAY2 + dt.timedelta(minutes=2))
    # then the drawdown breaker trips (the daily loss is -1.415%, not tripped)
    assert result.drawdown_tripped and not result.daily_tripped
    assert breaker_open(name="drawdown") and not breaker_open(name="daily_loss")
    assert RiskEvent.objects.filter(kind="breaker_trip", subject="drawdown").count() == 1
    assert Alert.objects.filter(metric="breaker_drawdown", severity="critical").count() == 1
    # and it stays open when equity recovers (latched), with no second trip event
    with django_capture_on_commit_callbacks(execute=True):
        services.equity_observe(equity=D("109000"), now=DAY2 + dt.timedelta(minutes=3))
    assert breaker_open(name="drawdown")
    assert RiskEvent.objects.filter(kind="breaker_trip").count() == 1


@pytest.mark.django_db
def test_daily_loss_path_and_reset_by_admin_only(operator, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.equity_observe(equity=D("50000"), now=DAY1)
        services.equity_observe(equity=D("49000.01"), now=DAY1 + dt.timedelta(minutes=5))
        assert not breaker_open(name="daily_loss")
        services.equity_observe(equity=D("49000.00"), now=DAY1 + dt.timedelta(minutes=10))  # exactly -2%
    assert breaker_open(name="daily_loss")
    row = CircuitBreaker.objects.get(name="daily_loss")
    assert row.trip_session == dt.date(2026, 3, 10) and row.data["loss_pct"] == "-0.02"

    with pytest.raises(RiskPermissionDenied):
        services.breaker_reset(actor=operator, name="daily_loss", reason="looks fine")
    with pytest.raises(services.RiskInputError):
        services.breaker_reset(actor=admin_user, name="daily_loss", reason="  ")
    assert breaker_open(name="daily_loss")

    with django_capture_on_commit_callbacks(execute=True):
        services.breaker_reset(actor=admin_user, name="daily_loss", reason="loss reviewed, strategy paused")
    assert not breaker_open()
    reset = RiskEvent.objects.get(kind="breaker_reset")
    assert (reset.actor, reset.subject) == (admin_user, "daily_loss")
    assert ActionLog.objects.filter(action="circuit_breaker.reset", actor=admin_user).count() == 1
    with pytest.raises(RiskStateError):
        services.breaker_reset(actor=admin_user, name="daily_loss", reason="again")


@pytest.mark.django_db
def test_daily_loss_auto_resets_next_session_only_when_configured(admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.equity_observe(equity=D("100000"), now=DAY1)
        services.equity_observe(equity=D("97000"), now=DAY1 + dt.timedelta(hours=1))
        services.equity_observe(equity=D("97000"), now=DAY2)  # not configured: still open next day
    assert breaker_open(name="daily_loss")

    with django_capture_on_commit_callbacks(execute=True):
        services.breaker_reset(actor=admin_user, name="daily_loss", reason="test setup")
        services.limits_update(actor=admin_user, reason="auto reset on", changes={"daily_loss_auto_reset": True})
        services.equity_observe(equity=D("94000"), now=DAY2 + dt.timedelta(hours=1))  # -3.09% from 97,000
    assert breaker_open(name="daily_loss")
    day3 = dt.datetime(2026, 3, 12, 14, 0, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):
        services.equity_observe(equity=D("94000"), now=day3)
    assert not breaker_open(name="daily_loss")
    auto = RiskEvent.objects.get(kind="breaker_reset", actor=None)
    assert auto.reason == "automatic reset at the start of session 2026-03-12"


@pytest.mark.django_db
def test_broker_error_burst_trips(django_capture_on_commit_callbacks, settings):
    from risk import conf

    with django_capture_on_commit_callbacks(execute=True):
        tripped = [services.broker_error_record(detail=f"503 #{i}", now=DAY1 + dt.timedelta(seconds=i))
                   for i in range(conf.BROKER_ERROR_BURST)]
    assert tripped == [False] * (conf.BROKER_ERROR_BURST - 1) + [True]
    assert breaker_open(name="broker_errors")


@pytest.mark.django_db
def test_stale_market_data_trips_during_the_session(django_capture_on_commit_callbacks):
    from marketdata.models import Asset, Bar

    asset = Asset.objects.create(symbol="AAPL")
    # newest bar Friday 6 March 2026; on Tuesday 10 March the previous session (Monday 9) is required
    Bar.objects.create(asset=asset, session=dt.date(2026, 3, 6), open=D("1"), high=D("1"), low=D("1"), close=D("1"))
    with django_capture_on_commit_callbacks(execute=True):
        assert not services.stale_data_check(now=dt.datetime(2026, 3, 14, 15, 0, tzinfo=UTC))  # weekend: no check
        assert services.stale_data_check(now=DAY1)
    assert breaker_open(name="stale_data")
    assert CircuitBreaker.objects.get(name="stale_data").data == {"latest_bar": "2026-03-06", "oldest_allowed": "2026-03-09"}


@pytest.mark.django_db
def test_fresh_market_data_does_not_trip():
    from marketdata.models import Asset, Bar

    asset = Asset.objects.create(symbol="AAPL")
    Bar.objects.create(asset=asset, session=dt.date(2026, 3, 9), open=D("1"), high=D("1"), low=D("1"), close=D("1"))
    assert not services.stale_data_check(now=DAY1)
    assert CircuitBreaker.objects.get(name="stale_data").state == "closed"


@pytest.mark.django_db
def test_broker_error_burst_from_the_gateways_order_events(django_capture_on_commit_callbacks):
    from orders.models import Order, OrderEvent

    order = Order.objects.create(client_order_id="x-1", symbol="AAPL", side="buy", qty=D(1), source="api",
                                 status="unknown", created_at=DAY1, updated_at=DAY1)
    # four failed calls in the last minute and one older: below the burst of five
    for seconds in (1, 10, 20, 30, 90):
        OrderEvent.objects.create(order=order, created_at=DAY1 - dt.timedelta(seconds=seconds), kind="submit_unknown")
    OrderEvent.objects.create(order=order, created_at=DAY1 - dt.timedelta(seconds=5), kind="created")
    assert not services.broker_errors_scan(now=DAY1)
    OrderEvent.objects.create(order=order, created_at=DAY1 - dt.timedelta(seconds=2), kind="rate_limited")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.broker_errors_scan(now=DAY1)
    assert breaker_open(name="broker_errors")
    assert CircuitBreaker.objects.get(name="broker_errors").data == {"errors": 5}


@pytest.mark.django_db
def test_reset_rebases_the_watermark_so_the_next_poll_does_not_trip_again(admin_user, django_capture_on_commit_callbacks):
    # peak 110,000, equity 104,000 (-5.45%): drawdown trips
    with django_capture_on_commit_callbacks(execute=True):
        services.equity_observe(equity=D("110000"), now=DAY1)
        services.equity_observe(equity=D("108000"), now=DAY2)
        services.equity_observe(equity=D("104000"), now=DAY2 + dt.timedelta(minutes=1))
    assert breaker_open(name="drawdown")
    with django_capture_on_commit_callbacks(execute=True):
        services.breaker_reset(actor=admin_user, name="drawdown", reason="accept the drawdown, strategy reviewed")
        services.breaker_reset(actor=admin_user, name="daily_loss", reason="accept today's loss")
    mark = EquityWatermark.objects.get()
    assert (mark.peak_equity, mark.start_of_day_equity) == (D("104000"), D("104000"))
    event = RiskEvent.objects.get(kind="breaker_reset", subject="drawdown")
    assert event.data == {"rebased": "peak_equity", "old": "110000.000000", "new": "104000.000000"}
    # the same equity no longer trips; a further 5% fall from the new peak does (104,000 x 0.95 = 98,800)
    with django_capture_on_commit_callbacks(execute=True):
        services.equity_observe(equity=D("104000"), now=DAY2 + dt.timedelta(minutes=2))
    assert not breaker_open()
    with django_capture_on_commit_callbacks(execute=True):
        services.equity_observe(equity=D("98800"), now=DAY2 + dt.timedelta(minutes=3))
    assert breaker_open(name="drawdown") and breaker_open(name="daily_loss")
