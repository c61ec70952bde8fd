"""The legacy pattern-day-trader counter, as pure functions.

FINRA Rule 4210 (as it stood until 2026): a margin customer who makes four or more day trades within
five business days is a pattern day trader, provided those day trades are more than 6% of the
customer's total trades in that period; a pattern day trader must keep $25,000 of equity. The SEC
approved its replacement by intraday margin standards on 2026-04-14 (effective 2026-06-04, with a
transition until 2027-10-20) and Alpaca stopped flagging pattern day traders in July 2026, so this
counter is a rule configured per broker (``RiskLimits.pdt_rule_enabled``, off by default). The
intraday standard is enforced on every opening order by the buying-power check
(``INSUFFICIENT_BUYING_POWER``).

"Business days" are NYSE sessions: the five-day window skips weekends and market holidays.

Counting day trades: per symbol and session, fills in time order; the first fill's side opens, and
each later switch from the opening side to the other side is one day trade (buy, sell = 1;
buy, buy, sell = 1; buy, sell, buy, sell = 2; a short sale then a buy = 1).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

FLAG_DAY_TRADES = 4
WINDOW_SESSIONS = 5
DAY_TRADE_SHARE = Decimal("0.06")


@dataclass(frozen=True, slots=True)
class Fill:
    session: dt.date
    symbol: str
    side: str
    executed_at: dt.datetime


@dataclass(frozen=True, slots=True)
class PdtStatus:
    window: tuple[dt.date, ...]
    day_trades: int
    total_trades: int
    flagged: bool  # 4+ day trades and more than 6% of trades
    restricted: bool  # flagged and equity below the threshold
    warn: bool  # the next day trade would flag an account under the threshold

    @property
    def day_trades_left(self) -> int:
        return max(0, FLAG_DAY_TRADES - 1 - self.day_trades)


def day_trades_by_session(fills: Iterable[Fill]) -> dict[dt.date, int]:
    runs: dict[tuple[dt.date, str], list[str]] = defaultdict(list)
    for fill in sorted(fills, key=lambda f: f.executed_at):
        runs[(fill.session, fill.symbol)].append(fill.side)
    counts: dict[dt.date, int] = defaultdict(int)
    for (session, _), sides in runs.items():
        opening = sides[0]
        previous = opening
        for side in sides[1:]:
            if previous == opening and side != opening:
                counts[session] += 1
            previous = side
    return dict(counts)


def pdt_evaluate(
    *, fills: Iterable[Fill], window: Iterable[dt.date], equity: Decimal, equity_threshold: Decimal
) -> PdtStatus:
    """Evaluate the rule over ``window`` (the last five sessions, from the market clock)."""
    window = tuple(window)
    inside = set(window)
    in_window = [f for f in fills if f.session in inside]
    day_trades = sum(day_trades_by_session(in_window).values())
    total = len(in_window)
    flagged = day_trades >= FLAG_DAY_TRADES and total > 0 and Decimal(day_trades) / Decimal(total) > DAY_TRADE_SHARE
    under = equity < equity_threshold
    return PdtStatus(
        window=window,
        day_trades=day_trades,
        total_trades=total,
        flagged=flagged,
        restricted=flagged and under,
        warn=not flagged and under and day_trades == FLAG_DAY_TRADES - 1,
    )
