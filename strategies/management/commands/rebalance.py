"""``manage.py rebalance [--date YYYY-MM-DD] [--method ...]``: run the rebalance chain now."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from trading_site.api.errors import DomainError


class Command(BaseCommand):
    help = "Run the rebalance chain for a trading day (default: today in New York); idempotent per day."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD (default: today in New York)")
        parser.add_argument("--method", help="allocation method (default: ALLOCATION_METHOD)")

    def handle(self, *args, date=None, method=None, **opts):
        from strategies.workflow import rebalance_run

        day = None
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
        if run.status == "failed":
            raise CommandError(f"rebalance failed at {run.failed_step}")
