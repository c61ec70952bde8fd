"""Bounded dates and times from outside (API, console, CSV files, commands), docs/ADRs/0021.

Market dates run from :data:`MARKET_DATE_MIN` (the bundled and imported history starts no earlier)
to a year after today in New York (:func:`market_date_max`): anything outside is a typo or an attack
(``0001-01-01`` and ``9999-12-31`` overflowed date arithmetic into 500s). Callers with a narrower
rule (a TWAP start within the trading days ahead) check it on top.
"""

from __future__ import annotations

import datetime as dt

from trading_site.lib import clock

MARKET_DATE_MIN = dt.date(1990, 1, 1)
FUTURE_DAYS = 366


class DateRangeError(ValueError):
    """A date outside the documented range."""


def market_date_max() -> dt.date:
    return clock.today_ny() + dt.timedelta(days=FUTURE_DAYS)


def market_date_check(value: dt.date, *, field: str = "date") -> dt.date:
    """``value`` if within 1990-01-01 … today + 1 year, else :class:`DateRangeError`."""
    day = value.date() if isinstance(value, dt.datetime) else value
    if not MARKET_DATE_MIN <= day <= market_date_max():
        raise DateRangeError(
            f"{field} must be between {MARKET_DATE_MIN.isoformat()} and {market_date_max().isoformat()}"
        )
    return value


def parse_market_date(text: str, *, field: str = "date") -> dt.date:
    """A ``YYYY-MM-DD`` date (ASCII, exactly that shape) within the market range."""
    if not (isinstance(text, str) and len(text) == 10 and text.isascii() and text[4] == "-" and text[7] == "-"
            and (text[:4] + text[5:7] + text[8:]).isdigit()):
        raise DateRangeError(f"{field} must be a date as YYYY-MM-DD")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise DateRangeError(f"{field} is not a valid date") from exc
    return market_date_check(day, field=field)
