"""``manage.py tax_import --trades FILE [--corporate-actions FILE] [--method ...]`` — seed lots from history.

On a terminal, progress (percent and time left) goes to stderr while the trades are applied.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tax.csvio import ImportFileError, parse_corporate_actions, parse_trades
from tax.engine import METHODS
from tax.selectors import cents
from tax.services import TaxImportError, trades_import
from trading_site.audit import system_actor
from trading_site.lib.progress import terminal_progress


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path} is not UTF-8 text") from None


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a history is parsed and applied: an import keeps up to a
    million engine objects alive (none in a reference cycle), and every full collection walks them
    all — a third of the engine's time at 100,000 trades. Back on afterwards (``call_command``)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class Command(BaseCommand):
    help = "Import a broker's trade history (and splits) into the tax lots. All or nothing."
    # No system checks before running: they import every URL conf, hence every view module and the
    # strategies' pandas stack (~1 s and ~60 MB) that a tax command never uses; ``manage.py check`` and
    # the server's start-up run them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--trades", required=True, help="CSV: date,side,symbol,qty,price,trade_id[,lot_ids][,commission]"
        )
        parser.add_argument(
            "--corporate-actions", dest="corporate_actions", help="CSV: date,symbol,type,ratio_from,ratio_to"
        )
        parser.add_argument("--method", default="fifo", choices=METHODS, help="lot relief method (default fifo)")
        parser.add_argument("--account", default="default")

    def handle(self, *args, **options):
        with _collector_paused():
            self._import(options)

    def _import(self, options) -> None:
        trades_name = Path(options["trades"]).name
        try:
            trades = parse_trades(_read(options["trades"]), name=trades_name)
            splits = []
            splits_name = "corporate-actions"
            if options["corporate_actions"]:
                splits_name = Path(options["corporate_actions"]).name
                splits = parse_corporate_actions(_read(options["corporate_actions"]), name=splits_name)
            with system_actor(), terminal_progress(options.get("stderr") or sys.stderr, "importing") as progress:
                result = trades_import(
                    trades=trades,
                    splits=splits,
                    method=options["method"],
                    account=options["account"],
                    trades_name=trades_name,
                    splits_name=splits_name,
                    progress=progress,
                )
        except (ImportFileError, TaxImportError) as exc:
            raise CommandError(f"{exc} — nothing imported") from None
        self.stdout.write(
            f"imported {result.trades} trades ({result.buys} buys, {result.sells} sells), {result.splits} splits: "
            f"{result.lots_created} lots, {result.realized_rows} realized rows, {result.wash_sales} wash-sale "
            f"matches, ${cents(result.disallowed_loss)} disallowed"
        )
