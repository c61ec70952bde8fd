"""``manage.py replay --start --end [--symbols] [--strategies] [--capital] [--method] [--json]``."""

from __future__ import annotations

import datetime as dt
import json
import sys

from django.core.management.base import BaseCommand, CommandError

from trading_site.api.errors import DomainError
from trading_site.lib.money import DecimalInputError, parse_money


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _list(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


class Command(BaseCommand):
    help = "Replay a date range through the live workflow, gateway and simulated exchange (isolated, rolled back)."

    def add_arguments(self, parser):
        parser.add_argument("--start", required=True)
        parser.add_argument("--end", required=True)
        parser.add_argument("--symbols", help="comma-separated symbols to keep in the strategies' universes")
        parser.add_argument("--strategies", help="comma-separated strategy names (default: the enabled ones)")
        parser.add_argument("--capital", default="100000")
        parser.add_argument("--method", help="allocation method (default: ALLOCATION_METHOD)")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **opts):
        from strategies.replay import replay_run

        try:
            capital = parse_money(opts["capital"], field="--capital")
        except DecimalInputError as exc:
            raise CommandError(str(exc)) from None
        kwargs = {
            "start": _date(opts["start"]),
            "end": _date(opts["end"]),
            "symbols": _list(opts["symbols"]),
            "strategies": _list(opts["strategies"]),
            "capital": capital,
            "method": opts["method"],
        }
        try:
            if sys.stderr.isatty() and not opts["json"]:
                from rich.console import Console
                from rich.progress import Progress

                with Progress(console=Console(stderr=True), transient=True) as bar:
                    task = bar.add_task("replaying", total=None)
                    result = replay_run(**kwargs, progress=lambda done, total: bar.update(task, completed=done, total=total))
            else:
                result = replay_run(**kwargs)
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        data = result.as_json()
        if opts["json"]:
            self.stdout.write(json.dumps(data))
            return
        m = data["metrics"]

        def pct(v):
            return "n/a" if v is None else f"{v * 100:.2f}%"

        def num(v):
            return "n/a" if v is None else f"{v:.2f}"

        self.stdout.write(f"replay {data['start']} → {data['end']}  strategies: {', '.join(data['strategies'])}")
        self.stdout.write(f"  equity {data['capital']} → {m['end_equity']:.2f}   trades {data['trades']}   "
                          f"rebalance days {data['rebalance_days']}")
        b = m["benchmark"]
        for label, key, fmt in (("total return", "total_return", pct), ("CAGR", "cagr", pct),
                                ("volatility", "volatility", pct), ("Sharpe", "sharpe", num),
                                ("Sortino", "sortino", num), ("max drawdown", "max_drawdown", pct)):
            self.stdout.write(f"  {label:<14}{fmt(m[key]):>12}   SPX {fmt(b.get(key)):>10}")
        self.stdout.write(f"  {'turnover':<14}{num(m['turnover']):>12}   commissions {m['commissions']:.2f}")
