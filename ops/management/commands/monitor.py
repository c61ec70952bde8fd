"""``manage.py monitor status|positions|performance|orders|logs [--watch SECONDS] [--json]``.

A terminal view of the running platform, read-only (trading_site/monitoring.py does the reading).
Tables use colour: P&L green when positive and red when negative, alerts highlighted by severity,
an engaged kill switch or tripped breaker in red. ``--watch`` redraws in place every SECONDS until
Ctrl-C (with ``--json``: one JSON document per line per refresh, for scripts). ``--count N`` stops
after N refreshes.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ops import monitoring
from orders.models import OrderStatus

VIEWS = ("status", "positions", "performance", "orders", "logs")
SEVERITY_STYLE = {"critical": "bold white on red", "warning": "bold yellow", "info": "cyan"}


def _dec(value: str | float | int) -> Decimal:
    return Decimal(str(value))


def _money(value: str | float | None) -> str:
    if value is None:
        return "—"
    return f"{_dec(value):,.2f}"


def _qty(value: str | None) -> str:
    if value is None:
        return "—"
    return f"{Decimal(value).normalize():f}"


def _when(iso: str) -> str:
    """An ISO timestamp from monitoring.py as ``YYYY-MM-DD HH:MM:SS`` (all of them are UTC)."""
    return iso[:19].replace("T", " ")


def _signed(value: str | float | None, fmt: str, *, scale: int = 1, unit: str = "") -> Text:
    """Green when positive, red when negative, a dim dash when unknown."""
    if value is None:
        return Text("—", style="dim")
    number = _dec(value) * scale
    style = "green" if number > 0 else "red" if number < 0 else ""
    return Text(format(number, fmt) + unit, style=style)


def _pnl(value: str | float | None) -> Text:
    return _signed(value, "+,.2f")


def _pct(value: str | float | None) -> Text:
    return _signed(value, "+.2f", scale=100, unit=" %")


def _positions_table(rows: list[dict]) -> Table:
    # Short headers and no cell padding: seven columns fit an 80-column terminal.
    table = Table(title="Positions", expand=False, padding=(0, 1), caption="P&L: unrealized / realized")
    for name in ("Symbol", "Qty", "Avg cost", "Last", "Mkt value", "Unreal.", "Realized"):
        table.add_column(name, justify="left" if name == "Symbol" else "right", no_wrap=True)
    for r in rows:
        table.add_row(
            r["symbol"],
            _qty(r["qty"]),
            _money(r["avg_cost"]),
            _money(r["last_price"]),
            _money(r["market_value"]),
            _pnl(r["unrealized_pnl"]),
            _pnl(r["realized_pnl"]),
        )
    if not rows:
        table.add_row("(no open positions)", "", "", "", "", "", "")
    return table


def _alerts_table(rows: list[dict], *, title: str = "Unacknowledged alerts") -> Table:
    table = Table(title=title)
    for name in ("Time (UTC)", "Severity", "Source", "Message"):
        table.add_column(name)
    for a in rows:
        style = SEVERITY_STYLE.get(a["severity"], "")
        table.add_row(
            _when(a["created_at"]),
            Text(a["severity"].upper(), style=style),
            a["source"],
            Text(a["message"], style=style if a["severity"] == "critical" else ""),
        )
    if not rows:
        table.add_row("", Text("none", style="green"), "", "")
    return table


def render_status(data: dict):
    account = data["account"]
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    if account is None:
        summary.add_row("Account", Text("no account snapshot yet (run manage.py reconcile)", style="yellow"))
    else:
        summary.add_row("Equity", _money(account["equity"]))
        summary.add_row("Cash", _money(account["cash"]))
        summary.add_row("Buying power", _money(account["buying_power"]))
        summary.add_row("Day P&L", _pnl(account["day_pnl"]))
        summary.add_row("Total P&L", _pnl(account["total_pnl"]))
        summary.add_row("Snapshot", _when(account["snapshot_time"]) + " UTC (cash and equity live since)")
    summary.add_row("Gross exposure", _money(data["gross_exposure"]))
    summary.add_row("Open orders", str(data["open_orders"]))
    kill = data["kill_switch"]
    summary.add_row(
        "Kill switch",
        Text(f"ENGAGED — {kill['reason']}", style="bold white on red")
        if kill["engaged"]
        else Text("off", style="green"),
    )
    tripped = [b for b in data["breakers"] if b["state"] == "open"]
    summary.add_row(
        "Breakers",
        Text("TRIPPED: " + ", ".join(b["name"] for b in tripped), style="bold red")
        if tripped
        else Text("all closed", style="green"),
    )
    rollout = data["rollout"]
    summary.add_row("Rollout phase", f"{rollout['phase'] or 'none'}" + (" (enforced)" if rollout["enforced"] else ""))
    beats = ", ".join(f"{h['name']} {h['age_seconds']:.0f}s ago" for h in data["heartbeats"]) or "none seen"
    summary.add_row("Heartbeats", beats)
    header = Panel(summary, title=f"Trading platform — {_when(data['time'])} UTC", expand=False)
    return Group(header, _positions_table(data["positions"]), _alerts_table(data["alerts"]))


def render_positions(rows: list[dict]):
    return _positions_table(rows)


def render_orders(rows: list[dict]):
    """Eight narrow columns (the order as "side qty symbol type"): fits an 80-column terminal."""
    table = Table(title="Orders (newest first)", padding=(0, 1))
    for name in ("ID", "Created (UTC)", "Order", "Filled", "Avg", "Status", "Source", "Code"):
        table.add_column(name, justify="right" if name in ("ID", "Filled", "Avg") else "left",
                         no_wrap=name in ("ID", "Created (UTC)", "Filled", "Avg", "Status"))
    status_style = {
        OrderStatus.FILLED: "green",
        OrderStatus.REJECTED: "red",
        OrderStatus.FAILED: "red",
        OrderStatus.UNKNOWN: "yellow",
        OrderStatus.CANCELED: "dim",
    }
    for o in rows:
        order = Text(o["side"], style="green" if o["side"] == "buy" else "red")
        order.append(f" {_qty(o['qty'])} {o['symbol']} {o['type']}")
        table.add_row(
            str(o["id"]),
            _when(o["created_at"])[5:16],
            order,
            _qty(o["filled_qty"]),
            _money(o["avg_fill_price"]),
            Text(o["status"], style=status_style.get(o["status"], "")),
            o["source"],
            Text(o["reject_code"], style="red"),
        )
    if not rows:
        table.add_row("", "(no orders)", *[""] * 6)
    return table


def render_performance(data: dict):
    s = data["summary"]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    grid.add_row("Window", f"{s['start']} to {s['end']} (New York dates), {s['trading_days']} day(s) with a snapshot")
    grid.add_row("Start equity", _money(s["start_equity"]))
    grid.add_row("End equity", _money(s["end_equity"]))
    grid.add_row("Equity change", _pnl(s["equity_change"]))
    grid.add_row("Total P&L (ledger)", _pnl(s["total_pnl"]))
    grid.add_row("Total return", _pct(s["total_return"]))
    grid.add_row("Max drawdown", _pct(s["max_drawdown"]))
    grid.add_row("Volatility (annualised)", "—" if s["volatility"] is None else f"{s['volatility'] * 100:.2f} %")
    grid.add_row("Sharpe / Sortino", " / ".join("—" if v is None else f"{v:.2f}" for v in (s["sharpe"], s["sortino"])))
    grid.add_row("Trades, commissions", f"{s['trades']}, {_money(s['commissions'])}")
    table = Table(title="Equity curve (last snapshot of each New York date)")
    for name in ("Date", "Equity", "Daily P&L", "Cumulative return", "Drawdown"):
        table.add_column(name, justify="left" if name == "Date" else "right")
    for r in data["curve"]:
        table.add_row(
            r["date"], _money(r["equity"]), _pnl(r["daily_pnl"]), _pct(r["cumulative_return"]), _pct(r["drawdown"])
        )
    if not data["curve"]:
        table.add_row("(no account snapshots in the window)", "", "", "", "")
    return Group(Panel(grid, title="Performance", expand=False), table)


def render_logs(data: dict):
    table = Table(title="Recent actions and alerts (no log file store: process logs go to stdout/stderr)")
    for name in ("Time (UTC)", "Kind", "Who / source", "What", "Target", "Reason / message"):
        table.add_column(name)
    for e in data["entries"]:
        style = SEVERITY_STYLE.get(e["severity"], "") if e["kind"] == "alert" else ""
        kind = Text(e["kind"] if e["kind"] == "action" else f"ALERT {e['severity'].upper()}", style=style)
        table.add_row(
            _when(e["at"]),
            kind,
            e["who"],
            e["what"],
            e["target"],
            Text(e["reason"], style=style if e["severity"] == "critical" else ""),
        )
    if not data["entries"]:
        table.add_row("", "(nothing recorded yet)", "", "", "", "")
    return table


class Command(BaseCommand):
    help = (
        "Terminal monitor: status, positions, performance, orders or logs, as colour tables or --json; "
        "--watch SECONDS redraws in place. 'logs' shows the recent action log and alerts — the platform "
        "keeps no log file store (process logs go to stdout/stderr; set LOG_FORMAT=json for an aggregator)."
    )

    def add_arguments(self, parser):
        parser.add_argument("view", choices=VIEWS, help="what to show")
        parser.add_argument("--watch", type=float, metavar="SECONDS", help="refresh every SECONDS until Ctrl-C")
        parser.add_argument("--count", type=int, metavar="N", help="with --watch: stop after N refreshes")
        parser.add_argument("--json", action="store_true", help="machine-readable output (one document per refresh)")
        parser.add_argument("--limit", type=int, default=20, metavar="N", help="orders/logs/alerts rows (default 20)")
        parser.add_argument("--days", type=int, default=30, metavar="N", help="performance window in days (default 30)")
        parser.add_argument("--status", choices=OrderStatus.values, help="orders: only this status")
        parser.add_argument("--symbol", help="orders: only this symbol")

    def handle(self, *args, **options):
        watch, count, limit, days = options["watch"], options["count"], options["limit"], options["days"]
        if watch is not None and watch <= 0:
            raise CommandError("--watch must be a positive number of seconds")
        if count is not None and (count < 1 or watch is None):
            raise CommandError("--count needs --watch and must be at least 1")
        if limit < 1 or limit > 1000:
            raise CommandError("--limit must be between 1 and 1000")
        if days < 1:
            raise CommandError("--days must be at least 1")
        view = options["view"]

        def read():
            if not connection.in_atomic_block:  # a watch loop runs for hours: drop a dead or expired connection
                close_old_connections()
            if view == "status":
                return monitoring.monitor_status(alert_limit=limit)
            if view == "positions":
                return monitoring.monitor_positions()
            if view == "performance":
                return monitoring.monitor_performance(days=days)
            if view == "orders":
                return monitoring.monitor_orders(limit=limit, status=options["status"], symbol=options["symbol"])
            return monitoring.monitor_logs(limit=limit)

        render = {
            "status": render_status,
            "positions": render_positions,
            "performance": render_performance,
            "orders": render_orders,
            "logs": render_logs,
        }[view]
        if options["json"]:
            self._json_loop(read, watch=watch, count=count)
            return
        console = Console(
            file=self.stdout._out,
            force_terminal=True if options.get("force_color") else None,
            no_color=bool(options.get("no_color")),
            width=None,
        )
        if watch is None:
            console.print(render(read()))
            return
        try:
            with Live(render(read()), console=console, auto_refresh=False, transient=False) as live:
                shown = 1
                while count is None or shown < count:
                    time.sleep(watch)
                    live.update(render(read()), refresh=True)
                    shown += 1
        except KeyboardInterrupt:
            return

    def _json_loop(self, read, *, watch: float | None, count: int | None) -> None:
        if watch is None:
            self.stdout.write(json.dumps(read(), indent=2))
            return
        shown = 0
        try:
            while count is None or shown < count:
                if shown:
                    time.sleep(watch)
                self.stdout.write(json.dumps(read()))
                self.stdout.flush()
                shown += 1
        except KeyboardInterrupt:
            return
