"""One trading day of the live workflow as the running platform lives it, for the replay parity tests."""

from __future__ import annotations

import datetime as dt

import time_machine

from marketdata import market_clock
from orders.selectors import price_cache_clear
from orders.slicing import slices_dispatch_due
from tests.delivery import stream_deliver
from workflow import schedules
from workflow.daily import day_orders_cancel, fills_confirm, rebalance_run


def live_day(day: dt.date, broker) -> None:
    """The rebalance at its scheduled moment, fills from the trade stream, the TWAP dispatcher minute by
    minute, the confirmation before the close and the leftover cancels at the scheduled market-close step."""
    close = market_clock.session_close(day)
    moment = schedules.moment("rebalance", day)  # as beat schedules it (and replay runs it)
    with time_machine.travel(moment, tick=False):
        price_cache_clear()
        rebalance_run(day=day)
        stream_deliver(broker)
    t = moment
    while t < close:
        with time_machine.travel(t, tick=False):
            price_cache_clear()
            slices_dispatch_due(now=t)
            stream_deliver(broker)
        t += dt.timedelta(minutes=1)
    with time_machine.travel(close - dt.timedelta(seconds=1), tick=False):
        fills_confirm(broker=broker)
        stream_deliver(broker)
    with time_machine.travel(schedules.moment("market_close", day), tick=False):
        day_orders_cancel()
        stream_deliver(broker)
