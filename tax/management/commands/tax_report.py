"""``manage.py tax_report [--year YYYY] --format json|csv|8949 [--output FILE]`` (no --year: all years).

The report is streamed: rows are read from a server-side cursor and written one at a time, so
memory stays flat however long the history. Progress (percent, time left) goes to stderr when it
is a terminal and the report is not being printed on it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tax.exports import form8949_lines, realized_lines
from tax.selectors import tax_report_json, tax_report_size
from trading_site.lib.progress import terminal_progress


class Command(BaseCommand):
    help = "Realized gains, open lots and wash sales as JSON, CSV or Form 8949 CSV."
    # No system checks before running: they import every URL conf, hence every view module and the
    # strategies' pandas stack (~1 s and ~60 MB) that a tax command never uses; ``manage.py check`` and
    # the server's start-up run them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int)
        parser.add_argument("--format", required=True, choices=["json", "csv", "8949"])
        parser.add_argument("--output", help="write here instead of stdout")
        parser.add_argument("--account", default="default")

    def handle(self, *args, **options):
        year, account, fmt = options["year"], options["account"], options["format"]
        if year is not None and not 1900 <= year <= 9999:
            raise CommandError("--year must be a four-digit year")
        if fmt == "json":
            chunks = tax_report_json(year=year, account=account)
        elif fmt == "csv":
            chunks = realized_lines(year=year, account=account)
        else:
            chunks = form8949_lines(year=year, account=account)
        # Progress on a terminal's stderr, unless the report itself is scrolling past on that terminal.
        stream = options.get("stderr") or sys.stderr
        if not options["output"] and self.stdout.isatty():
            stream = None
        with terminal_progress(stream, "tax report") as progress:
            total = tax_report_size(year=year, account=account, with_lots=fmt == "json") if progress else 0
            if options["output"]:
                try:
                    with Path(options["output"]).open("w", encoding="utf-8") as out:
                        self._write(out.write, chunks, progress, total)
                except OSError as exc:
                    raise CommandError(f"cannot write {options['output']}: {exc.strerror}") from None
            else:
                self._write(lambda text: self.stdout.write(text, ending=""), chunks, progress, total)
        if options["output"]:
            self.stdout.write(f"wrote {options['output']}")

    @staticmethod
    def _write(write, chunks, progress, total: int) -> None:
        # Rows are written 1,000 at a time: one write per row costs more than formatting it.
        batch: list[str] = []
        for done, chunk in enumerate(chunks):
            batch.append(chunk)
            if len(batch) == 1000:
                write("".join(batch))
                batch.clear()
                if progress is not None:
                    progress(min(done, total), total)
        write("".join(batch))
        if progress is not None:
            progress(total, total)
