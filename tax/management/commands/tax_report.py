"""``manage.py tax_report [--year YYYY] --format json|csv|8949 [--output FILE]`` (no --year: all years)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tax.exports import form8949_csv, realized_csv
from tax.selectors import tax_report


class Command(BaseCommand):
    help = "Realized gains, open lots and wash sales as JSON, CSV or Form 8949 CSV."

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int)
        parser.add_argument("--format", required=True, choices=["json", "csv", "8949"])
        parser.add_argument("--output", help="write here instead of stdout")
        parser.add_argument("--account", default="default")

    def handle(self, *args, **options):
        year, account = options["year"], options["account"]
        if year is not None and not 1900 <= year <= 9999:
            raise CommandError("--year must be a four-digit year")
        if options["format"] == "json":
            text = json.dumps(tax_report(year=year, account=account), indent=2) + "\n"
        elif options["format"] == "csv":
            text = realized_csv(year=year, account=account)
        else:
            text = form8949_csv(year=year, account=account)
        if options["output"]:
            try:
                Path(options["output"]).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"cannot write {options['output']}: {exc.strerror}") from None
            self.stdout.write(f"wrote {options['output']}")
        else:
            self.stdout.write(text, ending="")
