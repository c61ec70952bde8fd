"""``manage.py replay``: replay a date range through the live code in a database of its own, store it
as a ReplayRun, and print (or write) its report. Run ``manage.py replay --help`` for every option."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from trading_site.lib.errors import DomainError
from workflow.replays import progress_text, replay_create, replay_execute, report_html, run_json


class Command(BaseCommand):
    help = (
        "Replay [--start, --end] through the live workflow, gateway, risk checks, simulated exchange, fills, "
        "positions and tax lots, in a SQLite database of its own under var/replays/ (the live database is only "
        "read). The run is stored as a ReplayRun (shown in the console under /replays/). Progress (percent and "
        "time left) goes to stderr."
    )

    def add_arguments(self, parser):
        parser.add_argument("--start", required=True, metavar="YYYY-MM-DD",
                            help="first day of the window (1990-01-01 or later); the first NYSE session on or after it")
        parser.add_argument("--end", required=True, metavar="YYYY-MM-DD",
                            help="last day of the window (not after today); the last NYSE session on or before it")
        parser.add_argument("--strategies", metavar="NAME,NAME",
                            help="comma-separated strategy names: existing strategies (read, never changed) or the demo "
                                 "ones (sma-crossover, momentum, mean-reversion, ensemble). Default: the enabled "
                                 "strategies, else the four demo ones")
        parser.add_argument("--symbols", metavar="SYM,SYM",
                            help="comma-separated symbols to keep in the strategies' universes (default: all of them)")
        parser.add_argument("--capital", default="100000", metavar="AMOUNT",
                            help="starting cash in dollars, a positive number (default 100000)")
        parser.add_argument("--method", metavar="METHOD",
                            help="allocation method: rank_aggregation, inverse_vol or equal_weight "
                                 "(default: ALLOCATION_METHOD)")
        parser.add_argument("--json", action="store_true", help="print the stored run as JSON on stdout")
        parser.add_argument("--report", metavar="PATH",
                            help="also write the report to PATH: HTML (charts, monthly returns, attribution, trades) "
                                 "or JSON, by --format or by PATH's extension (.html/.json)")
        parser.add_argument("--format", choices=("html", "json"), help="format of --report (default: from PATH)")

    def handle(self, *args, **opts):
        report = Path(opts["report"]) if opts["report"] else None
        fmt = opts["format"] or (report.suffix.lstrip(".").lower() if report else None)
        if report is not None and fmt not in ("html", "json"):
            raise CommandError("--report needs a .html or .json PATH, or --format html|json")
        try:
            run = replay_create(actor=None, start=opts["start"], end=opts["end"], strategies=opts["strategies"],
                                symbols=opts["symbols"], capital=opts["capital"], method=opts["method"],
                                reason="manage.py replay")
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        started = time.monotonic()
        tty = sys.stderr.isatty()
        shown = [-1]

        def progress(done: int, total: int) -> None:
            text = progress_text(done=done, total=total, elapsed=time.monotonic() - started)
            if tty:
                sys.stderr.write(f"\rreplay {run.pk}: {done}/{total} sessions  {text}   ")
                if done == total:
                    sys.stderr.write("\n")
            elif done == total or int(100 * done / total) // 10 > shown[0]:
                shown[0] = int(100 * done / total) // 10
                sys.stderr.write(f"replay {run.pk}: {done}/{total} sessions  {text}\n")
            sys.stderr.flush()

        try:
            run = replay_execute(run_id=run.pk, progress=progress)
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        data = run_json(run)
        if report is not None:
            report.write_text(report_html(run) if fmt == "html" else json.dumps(data), encoding="utf-8")
        if opts["json"]:
            self.stdout.write(json.dumps(data))
            return
        m = data["metrics"]

        def pct(v):
            return "n/a" if v is None else f"{v * 100:.2f}%"

        def num(v):
            return "n/a" if v is None else f"{v:.2f}"

        self.stdout.write(f"replay {run.pk} {data['start']} → {data['end']}  strategies: {', '.join(data['strategies'])}")
        self.stdout.write(f"  equity {data['capital']} → {data['final_equity']}   realized (tax lots) "
                          f"{data['realized_pnl']}   orders {data['trades']}   {run.seconds:.1f} s")
        b = m["benchmark"]
        for label, key, fmt_ in (("total return", "total_return", pct), ("CAGR", "cagr", pct),
                                 ("volatility", "volatility", pct), ("Sharpe", "sharpe", num),
                                 ("Sortino", "sortino", num), ("max drawdown", "max_drawdown", pct)):
            self.stdout.write(f"  {label:<14}{fmt_(m[key]):>12}   SPX {fmt_(b.get(key)):>10}")
        self.stdout.write(f"  {'turnover':<14}{num(m['turnover']):>12}   commissions {m['commissions']:.2f}")
        if report is not None:
            self.stdout.write(f"  report written to {report}")
