"""``manage.py load_bundled_data [--dataset demo|ohlcv] [--replace]`` — the bundled provider."""

from django.core.management.base import BaseCommand, CommandError

from marketdata.bundled import DATASETS, bundled_load
from marketdata.data_import import BarFileError, DataConflict


class Command(BaseCommand):
    help = "Load a bundled dataset from strategies/sample_data (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", choices=DATASETS, default="demo")
        parser.add_argument("--replace", action="store_true", help="replace bars of these symbols from other sources")

    def handle(self, *args, dataset, replace, **options):
        try:
            summaries = bundled_load(dataset=dataset, existing="replace" if replace else "refuse")
        except (BarFileError, DataConflict) as exc:
            raise CommandError(f"nothing loaded: {exc}") from exc
        for summary in summaries:
            self.stdout.write(self.style.SUCCESS(f"loaded {summary}"))
