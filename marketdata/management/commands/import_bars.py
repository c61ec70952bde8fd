"""``manage.py import_bars FILE --format ohlcv|wide-close [--source NAME] [--replace]`` — atomic CSV import."""

from django.core.management.base import BaseCommand, CommandError

from marketdata.data_import import FORMATS, BarFileError, DataConflict, bars_import_file


class Command(BaseCommand):
    help = "Import daily bars from a CSV (optionally .gz). One transaction: a bad line loads nothing."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--format", dest="fmt", choices=FORMATS, default="ohlcv")
        parser.add_argument("--source", default="csv", help="source label stored on each bar (max 20 chars)")
        parser.add_argument("--replace", action="store_true", help="replace bars of these symbols from other sources")

    def handle(self, *args, file, fmt, source, replace, **options):
        if not 0 < len(source) <= 20:
            raise CommandError("--source must be 1 to 20 characters")
        try:
            summary = bars_import_file(path=file, fmt=fmt, source=source, existing="replace" if replace else "refuse")
        except (BarFileError, DataConflict) as exc:
            raise CommandError(f"nothing loaded: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"loaded {summary}"))
