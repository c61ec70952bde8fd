"""One trading day of the live workflow as the running platform lives it, for the replay parity tests."""

from __future__ import annotations

import datetime as dt

import time_machine

from orders.selectors import price_cache_clear
from orders.slicing import slices_dispatch_due
from tests.delivery import stream_deliver
from trading_site.lib.clock import NEW_YORK
from workflow.daily import day_orders_cancel, fills_confirm, rebalance_run


def live_day(day: dt.date, broker) -> None:
    """The rebalance at 15:45, fills from the trade stream, the TWAP dispatcher minute by minute, the
    close's confirmation and leftover cancels."""
    close = dt.datetime.combine(day, dt.time(16, 0), tzinfo=NEW_YORK)
    moment = close - dt.timedelta(minutes=15)
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
    with time_machine.travel(close + dt.timedelta(minutes=5), tick=False):
        day_orders_cancel()
        stream_deliver(broker)
