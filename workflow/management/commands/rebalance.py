"""``manage.py rebalance [--date YYYY-MM-DD] [--method ...]``: run the rebalance chain now.

Without ``--date`` the day is the latest NYSE session: today on a trading day, otherwise the last
session before it (a weekend or a holiday has no rebalance of its own).
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from marketdata import market_clock
from marketdata.demo_market import demo_label
from trading_site.lib import clock
from trading_site.lib.errors import DomainError
from workflow.daily import rebalance_run


class Command(BaseCommand):
    help = "Run the rebalance chain for a trading day (default: the latest session in New York); idempotent per day."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD (default: today in New York, or the last session before it)")
        parser.add_argument("--method", help="allocation method (default: ALLOCATION_METHOD)")

    def handle(self, *args, date=None, method=None, **opts):
        day = market_clock.current_or_previous_session(clock.now())
        if date:
            try:
                day = dt.date.fromisoformat(date)
            except ValueError:
                raise CommandError(f"--date must be YYYY-MM-DD, not {date!r}") from None
        try:
            run = rebalance_run(day=day, method=method)
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        for step in run.steps.order_by("position"):
            line = f"  {step.name:<11}{step.status:<10}{step.duration_ms or 0:>9.1f} ms  count={step.count}"
            self.stdout.write(line + (f"  {step.error}" if step.error else ""))
        self.stdout.write(
            f"rebalance {run.day} {run.status}: {run.orders_submitted} submitted, {run.orders_rejected} rejected"
            + (f" (failed at {run.failed_step}: {run.error})" if run.status == "failed" else "")
        )
        label = demo_label(run.day)
        if label:
            self.stdout.write(f"prices: {label}")
        if run.status == "failed":
            raise CommandError(f"rebalance failed at {run.failed_step}")
