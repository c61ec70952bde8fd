"""Run the Alpaca trade-update stream (one process per account) with its REST polling fallback."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orders.brokers import get_broker
from orders.conf import conf
from orders.stream import TradeStreamRunner


class Command(BaseCommand):
    help = "Consume Alpaca trade updates (BROKER=alpaca). With the simulated broker, delivers its updates."

    def handle(self, *args, **options):
        if settings.BROKER != "alpaca":
            raise CommandError("run_trade_stream needs BROKER=alpaca; the simulated exchange delivers updates itself.")
        broker = get_broker()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write(f"trade stream: {broker.name} (paper={broker.paper}), polling every {conf.trade_stream_poll_seconds}s when quiet")
        TradeStreamRunner(broker, poll_seconds=conf.trade_stream_poll_seconds).run_forever(stop)
