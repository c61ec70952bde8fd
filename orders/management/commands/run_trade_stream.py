"""Run the trade-update stream (one process per account): Alpaca's websocket with its REST polling
fallback, or the simulated exchange's outbox (``SIM_FILL_DELIVERY=stream``)."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orders.brokers import get_broker
from orders.conf import conf
from orders.stream import OutboxStreamRunner, TradeStreamRunner


class Command(BaseCommand):
    help = "Deliver trade updates: Alpaca's trade_updates stream, or the simulated exchange's (SIM_FILL_DELIVERY=stream)."

    def handle(self, *args, **options):
        if settings.BROKER == "simulated" and settings.SIM_FILL_DELIVERY != "stream":
            raise CommandError(
                "run_trade_stream with the simulated broker needs SIM_FILL_DELIVERY=stream; with inline "
                "delivery every submitting call books its own fills."
            )
        broker = get_broker()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        if settings.BROKER == "simulated":
            self.stdout.write(f"trade stream: simulated exchange outbox, every {conf.sim_stream_poll_seconds}s when idle")
            OutboxStreamRunner(broker, poll_seconds=conf.sim_stream_poll_seconds).run_forever(stop)
            return
        self.stdout.write(f"trade stream: {broker.name} (paper={broker.paper}), polling every {conf.trade_stream_poll_seconds}s when quiet")
        TradeStreamRunner(broker, poll_seconds=conf.trade_stream_poll_seconds).run_forever(stop)
