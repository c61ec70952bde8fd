"""Legacy pattern-day-trader counter: worked examples over NYSE business days."""

import datetime as dt
from decimal import Decimal

from marketdata import market_clock
from risk.pdt import Fill, day_trades_by_session, pdt_evaluate

D = Decimal
UTC = dt.UTC


def _round_trip(day: dt.date, symbol: str, hour: int = 15) -> list[Fill]:
    t = dt.datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return [Fill(day, symbol, "buy", t), Fill(day, symbol, "sell", t + dt.timedelta(minutes=30))]


def _window(ending: dt.date) -> list[dt.date]:
    return market_clock.sessions_window(ending=ending, count=5)


def test_counting_day_trades_per_symbol_and_session():
    d = dt.date(2026, 3, 10)
    t = dt.datetime(2026, 3, 10, 15, tzinfo=UTC)
    m = dt.timedelta(minutes=1)
    fills = [
        Fill(d, "AAPL", "buy", t), Fill(d, "AAPL", "buy", t + m), Fill(d, "AAPL", "sell", t + 2 * m),  # 1
        Fill(d, "MSFT", "buy", t), Fill(d, "MSFT", "sell", t + m), Fill(d, "MSFT", "buy", t + 2 * m),
        Fill(d, "MSFT", "sell", t + 3 * m),  # 2
        Fill(d, "SPY", "sell", t), Fill(d, "SPY", "buy", t + m),  # short then cover: 1
        Fill(d, "QQQ", "buy", t),  # no day trade
    ]
    assert day_trades_by_session(fills) == {d: 4}


def test_three_day_trades_in_five_business_days_not_flagged_but_warned_under_25k():
    # Monday 9 to Friday 13 March 2026: day trades on Mon, Wed, Fri
    days = [dt.date(2026, 3, 9), dt.date(2026, 3, 11), dt.date(2026, 3, 13)]
    fills = [f for i, d in enumerate(days) for f in _round_trip(d, f"S{i}")]
    status = pdt_evaluate(fills=fills, window=_window(dt.date(2026, 3, 13)), equity=D("20000"),
                          equity_threshold=D("25000"))
    assert (status.day_trades, status.total_trades, status.flagged, status.restricted) == (3, 6, False, False)
    assert status.warn and status.day_trades_left == 0
    # with 25,000 of equity there is nothing to warn about
    rich = pdt_evaluate(fills=fills, window=_window(dt.date(2026, 3, 13)), equity=D("25000"), equity_threshold=D("25000"))
    assert not rich.warn and not rich.restricted


def test_four_day_trades_flagged_when_more_than_six_percent_of_trades():
    days = [dt.date(2026, 3, 9), dt.date(2026, 3, 10), dt.date(2026, 3, 11), dt.date(2026, 3, 12)]
    fills = [f for i, d in enumerate(days) for f in _round_trip(d, f"S{i}")]
    window = _window(dt.date(2026, 3, 13))
    # 4 day trades out of 8 trades = 50% > 6%: flagged; equity 20,000 < 25,000: restricted
    status = pdt_evaluate(fills=fills, window=window, equity=D("20000"), equity_threshold=D("25000"))
    assert (status.day_trades, status.total_trades, status.flagged, status.restricted) == (4, 8, True, True)
    # add 59 other (non-day-trade) buys: 4 / 67 = 5.97% ≤ 6% → not flagged
    t = dt.datetime(2026, 3, 13, 15, tzinfo=UTC)
    others = [Fill(dt.date(2026, 3, 13), f"X{i}", "buy", t) for i in range(59)]
    diluted = pdt_evaluate(fills=fills + others, window=window, equity=D("20000"), equity_threshold=D("25000"))
    assert (diluted.day_trades, diluted.total_trades, diluted.flagged) == (4, 67, False)
    # 58 others: 4 / 66 = 6.06% > 6% → flagged
    at = pdt_evaluate(fills=fills + others[:58], window=window, equity=D("20000"), equity_threshold=D("25000"))
    assert (at.total_trades, at.flagged) == (66, True)


def test_the_five_business_day_window_skips_a_market_holiday():
    # Thursday 4 July 2024 is a holiday: the five sessions ending Monday 8 July are 1, 2, 3, 5, 8 July.
    days = [dt.date(2024, 7, 1), dt.date(2024, 7, 2), dt.date(2024, 7, 3), dt.date(2024, 7, 5)]
    fills = [f for i, d in enumerate(days) for f in _round_trip(d, f"S{i}")]
    window = _window(dt.date(2024, 7, 8))
    assert window[0] == dt.date(2024, 7, 1)
    status = pdt_evaluate(fills=fills, window=window, equity=D("10000"), equity_threshold=D("25000"))
    assert status.day_trades == 4 and status.flagged
    # counting the holiday as a business day would have dropped 1 July and missed the flag
    naive = [dt.date(2024, 7, 2), dt.date(2024, 7, 3), dt.date(2024, 7, 4), dt.date(2024, 7, 5), dt.date(2024, 7, 8)]
    assert not pdt_evaluate(fills=fills, window=naive, equity=D("10000"), equity_threshold=D("25000")).flagged
    # a day later (Tuesday 9 July) 1 July leaves the window
    later = pdt_evaluate(fills=fills, window=_window(dt.date(2024, 7, 9)), equity=D("10000"), equity_threshold=D("25000"))
    assert later.day_trades == 3 and not later.flagged and later.warn
