"""``manage.py data_quality [SYMBOL ...] [--today YYYY-MM-DD]`` — print the quality-gate findings."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from marketdata.quality import quality_report


class Command(BaseCommand):
    help = "Run the market-data quality gates (large moves, NYSE gaps, staleness) and list the findings."

    def add_arguments(self, parser):
        parser.add_argument("symbols", nargs="*", help="default: every symbol with bars")
        parser.add_argument("--today", help="reference date for staleness (default: today in New York)")

    def handle(self, *args, symbols, today, **options):
        try:
            reference = dt.date.fromisoformat(today) if today else None
        except ValueError:
            raise CommandError(f"--today must be YYYY-MM-DD, not {today!r}") from None
        findings = quality_report(symbols=[s.upper() for s in symbols] or None, today=reference)
        for f in findings:
            style = self.style.SUCCESS if f.check == "large_move_explained" else self.style.WARNING
            self.stdout.write(style(f"{f.check:22} {f.symbol:8} {f.session}  {f.detail}"))
        flagged = sum(1 for f in findings if f.check != "large_move_explained")
        self.stdout.write(f"{len(findings)} findings, {flagged} flagged")
