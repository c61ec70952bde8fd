"""Stop-loss, take-profit and trailing stop on replayed historical daily closes.

Prices are real closes from /work/shared/data/stocks-ohlcv-2000-2013.csv.gz (Quandl WIKI, public
domain), copied here so each test states its path. Each test checks the exit fires on the expected
bar and that the path before that bar does not fire.
"""

from decimal import Decimal

import pytest

from risk.dynamic import LONG, SHORT, StopRules, exit_check, replay

D = Decimal
DEFAULT = StopRules(stop_loss_pct=D("0.03"), take_profit_pct=D("0.10"))

# MSFT closes after 2008-09-12 (close 27.62)
MSFT_2008_09 = [
    ("2008-09-15", "26.82"), ("2008-09-16", "25.99"), ("2008-09-17", "24.57"), ("2008-09-18", "25.26"),
]
# AAPL closes after 2009-03-09 (close 83.11)
AAPL_2009_03 = [
    ("2009-03-10", "88.6275"), ("2009-03-11", "92.68"), ("2009-03-12", "96.35"), ("2009-03-13", "95.93"),
    ("2009-03-16", "95.42"), ("2009-03-17", "99.66"), ("2009-03-18", "101.52"), ("2009-03-19", "101.62"),
    ("2009-03-20", "101.59"), ("2009-03-23", "107.66"), ("2009-03-24", "106.83"), ("2009-03-25", "106.49"),
    ("2009-03-26", "109.87"), ("2009-03-27", "106.85"), ("2009-03-30", "104.49"), ("2009-03-31", "105.12"),
]
# MSFT closes after 2008-10-03 (close 26.32)
MSFT_2008_10 = [("2008-10-06", "24.91"), ("2008-10-07", "23.23"), ("2008-10-08", "23.01")]


def _run(path, *, side, entry, rules):
    prices = [D(p) for _, p in path]
    hit = replay(side=side, entry_price=D(entry), prices=prices, rules=rules)
    return (path[hit[0]][0], hit[1]) if hit else (None, None)


def test_stop_loss_fires_on_the_first_close_at_or_below_97_percent():
    # entry 27.62 → stop 27.62 × 0.97 = 26.7914; 26.82 (09-15) is above, 25.99 (09-16) is below
    day, signal = _run(MSFT_2008_09, side=LONG, entry="27.62", rules=DEFAULT)
    assert day == "2008-09-16"
    assert (signal.reason, signal.trigger, signal.price) == ("stop_loss", D("26.7914"), D("25.99"))
    assert _run(MSFT_2008_09[:1], side=LONG, entry="27.62", rules=DEFAULT) == (None, None)


def test_take_profit_fires_on_the_first_close_at_or_above_110_percent():
    # entry 96.35 (2009-03-12) → target 105.985; the path peaks at 101.62 before 107.66 on 03-23;
    # the stop (93.4595) is never touched
    path = AAPL_2009_03[3:]
    day, signal = _run(path, side=LONG, entry="96.35", rules=DEFAULT)
    assert day == "2009-03-23"
    assert (signal.reason, signal.trigger) == ("take_profit", D("105.98500"))
    assert _run(path[:6], side=LONG, entry="96.35", rules=DEFAULT) == (None, None)


def test_trailing_stop_fires_four_percent_below_the_running_high():
    # entry 83.11 (2009-03-09), trailing 4%, take-profit widened to 50% by a per-position override.
    # running high 109.87 on 03-26 → trail 105.4752; 106.85 (03-27) holds, 104.49 (03-30) fires.
    # Earlier dips do not fire: 95.42 vs trail 96.35 × 0.96 = 92.496.
    rules = StopRules(stop_loss_pct=D("0.03"), take_profit_pct=D("0.50"), trailing_stop_pct=D("0.04"))
    day, signal = _run(AAPL_2009_03, side=LONG, entry="83.11", rules=rules)
    assert day == "2009-03-30"
    assert (signal.reason, signal.trigger, signal.price) == ("trailing_stop", D("105.4752"), D("104.49"))
    assert _run(AAPL_2009_03[:14], side=LONG, entry="83.11", rules=rules) == (None, None)
    # without the trailing stop the same path never exits (target 124.665, stop 80.6167)
    no_trail = StopRules(stop_loss_pct=D("0.03"), take_profit_pct=D("0.50"))
    assert _run(AAPL_2009_03, side=LONG, entry="83.11", rules=no_trail) == (None, None)


def test_short_position_take_profit_is_mirrored():
    # short entered at 26.32 (2008-10-03): target 26.32 × 0.90 = 23.688; 24.91 holds, 23.23 fires
    day, signal = _run(MSFT_2008_10, side=SHORT, entry="26.32", rules=DEFAULT)
    assert day == "2008-10-07"
    assert (signal.reason, signal.trigger) == ("take_profit", D("23.6880"))


def test_short_stop_loss_and_rule_precedence():
    # short at 100: stop at 103; a bar at exactly 103 fires the stop
    assert exit_check(side=SHORT, entry_price=D("100"), price=D("103"), extreme_price=D("95"),
                      rules=DEFAULT).reason == "stop_loss"
    assert exit_check(side=SHORT, entry_price=D("100"), price=D("102.99"), extreme_price=D("100"), rules=DEFAULT) is None
    # long: when the stop-loss and the trailing stop both fire, stop-loss wins
    both = StopRules(stop_loss_pct=D("0.03"), take_profit_pct=D("0.10"), trailing_stop_pct=D("0.02"))
    assert exit_check(side=LONG, entry_price=D("100"), price=D("96"), extreme_price=D("100"), rules=both).reason == "stop_loss"
    with pytest.raises(ValueError):
        exit_check(side="flat", entry_price=D("1"), price=D("1"), extreme_price=D("1"), rules=DEFAULT)
