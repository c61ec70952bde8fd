"""Tax benchmarks on PostgreSQL.

1. A single sale that closes 1,000 lots, through the fill listener (load the open lots, relieve them,
   write 1,000 realized rows and the closures, commit). Budget < 100 ms, aim < 20 ms. Median of runs.
2. Import and report at scale: the first 1,000, 10,000 and 100,000 trades of one seeded file
   (``history_csv``), each imported with ``manage.py tax_import --method fifo`` (wash sales on) and
   reported with ``manage.py tax_report --format json`` and ``--format 8949``, every command in its
   own child process: wall time (median of runs) and peak memory (the child's max RSS, from
   ``os.wait4``). Budgets at 100,000: import <= 30 s (aim <= 5 s), report <= 10 s (aim <= 2 s),
   <= 300 MB each; the growth from 10,000 to 100,000 trades at most 11x (linear).

The counts of wash-sale matches and realized rows are printed with each size: wash-sale
fragmentation (a loss sold out of many lots splits the next purchase into as many replacement lots)
is what makes this workload heavy.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from decimal import Decimal

from bench.util import median, result

LOTS = 1000
RUNS = 7
IMPORT_TRADES = 100_000


def _sale_closing_1000_lots() -> list[dict]:
    from orders.events import FillEvent
    from tax.csvio import parse_trades
    from tax.models import RealizedGain
    from tax.services import lots_apply_fill, trades_import

    rng = random.Random(8)
    base = dt.datetime(2025, 1, 2, 15, 0, tzinfo=dt.UTC)
    timings = []
    for run in range(RUNS):
        account = f"bench-close-{run}"
        # Seed the 1,000 lots with one import (the seeding is not what is measured).
        lines = ["date,side,symbol,qty,price,trade_id"]
        day = dt.date(2023, 1, 3)
        total = 0
        for i in range(LOTS):
            qty = rng.randint(1, 20)
            total += qty
            lines.append(
                f"{day + dt.timedelta(days=i // 4)},buy,BENCH,{qty},{rng.randint(9000, 11000) / 100:.2f},buy-{run}-{i}"
            )
        trades_import(trades=parse_trades("\n".join(lines)), account=account)
        sale = FillEvent(
            execution_id=f"sell-{run}",
            order_id=10**6 + run,
            client_order_id=f"sell-{run}",
            symbol="BENCH",
            side="sell",
            qty=Decimal(total),
            price=Decimal("100.00"),
            commission=Decimal("1.00"),
            executed_at=base,
            source="bench",
            account=account,
        )
        started = time.perf_counter()
        lots_apply_fill(sale)
        timings.append((time.perf_counter() - started) * 1000)
        assert RealizedGain.objects.filter(account=account).count() == LOTS
    value = median(timings)
    return [
        result("tax: one sale closing 1,000 lots, persisted (median)", value, "ms", "<100 ms (aim <20 ms)", value < 100)
    ]


# -- import and report at scale ------------------------------------------------------------------------
SEED = 20240601
SYMBOLS = ("AAPL", "AMZN", "GOOG", "JPM", "MSFT", "NVDA", "PG", "TSLA", "V", "XOM")
FULL = 100_000
SIZES = (1_000, 10_000, 100_000)
SCALE_RUNS = 3


def history_csv(n: int) -> str:
    """The first ``n`` trades of one seeded file (stdlib ``random``, seed 20240601): 100,000 trades
    in 10 symbols over the weekdays of 2018-2022 (about 80 a day), prices random-walking 1 % per
    trade; a trade sells (1-100 shares, if held) with probability 0.4, else buys 1-100 shares —
    59,878 buys and 40,122 sells at 100,000, the position growing over the years. Most loss sales
    have purchases of the same symbol within 30 days (wash sales, fragmented over many lots)."""
    rng = random.Random(SEED)
    days, day = [], dt.date(2018, 1, 1)
    while day <= dt.date(2022, 12, 31):
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    price = {s: 50.0 + 25 * i for i, s in enumerate(SYMBOLS)}
    held = dict.fromkeys(SYMBOLS, 0)
    lines = ["date,side,symbol,qty,price,trade_id,commission"]
    for i in range(n):
        s = rng.choice(SYMBOLS)
        price[s] = max(1.0, price[s] * (1 + rng.gauss(0, 0.01)))
        qty = rng.randint(1, 100)
        side = "sell" if held[s] >= qty and rng.random() < 0.4 else "buy"
        held[s] += qty if side == "buy" else -qty
        lines.append(
            f"{days[i * len(days) // FULL]},{side},{s},{qty},{price[s]:.2f},T{i:06d},{'1.00' if i % 4 == 0 else ''}"
        )
    return "\n".join(lines) + "\n"


def _command(args: list[str]) -> tuple[float, float]:
    """Run a manage.py command in a child process; its wall time (s) and peak memory (max RSS, MB)."""
    import os
    import subprocess
    import sys

    from bench.util import ROOT, child_env

    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=child_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not every child's maximum
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed: {stderr.decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024  # Linux reports KB


def _import_and_report_at_scale() -> list[dict]:
    import tempfile
    from pathlib import Path

    from tax.models import RealizedGain, WashSale

    out: list[dict] = []
    figures: dict[tuple[str, int], tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in SIZES:
            path = Path(tmp) / f"trades-{n}.csv"
            path.write_text(history_csv(n))
            imports, reports, forms = [], [], []
            for run in range(SCALE_RUNS):
                account = f"scale-{n}-{run}"
                imports.append(
                    _command(["tax_import", "--trades", str(path), "--method", "fifo", "--account", account])
                )
                reports.append(_command(["tax_report", "--format", "json", "--account", account,
                                         "--output", str(Path(tmp) / "report.json")]))  # fmt: skip
                forms.append(_command(["tax_report", "--format", "8949", "--account", account,
                                       "--output", str(Path(tmp) / "report.csv")]))  # fmt: skip
            washes = WashSale.objects.filter(account=account).count()
            rows = RealizedGain.objects.filter(account=account).count()
            for kind, runs in (("import", imports), ("report json", reports), ("report 8949", forms)):
                figures[(kind, n)] = (median([t for t, _ in runs]), max(m for _, m in runs))
            t_imp, m_imp = figures[("import", n)]
            t_rep, m_rep = figures[("report json", n)]
            t_f, m_f = figures[("report 8949", n)]
            big = n == FULL
            label = f"{n:,} trades ({washes:,} wash-sale matches, {rows:,} realized rows)"
            out += [
                result(f"tax: manage.py tax_import, {label}, wash sales on (median, child process)", t_imp, "s",
                       "<=30 s (aim <=5 s)" if big else "informational", t_imp <= 30 or not big),
                result(f"tax: tax_import peak memory, {n:,} trades (max RSS of the child)", m_imp, "MB",
                       "<=300 MB", m_imp <= 300),
                result(f"tax: manage.py tax_report --format json, {label} (median)", t_rep, "s",
                       "<=10 s (aim <=2 s)" if big else "informational", t_rep <= 10 or not big),
                result(f"tax: tax_report json peak memory, {n:,} trades", m_rep, "MB", "<=300 MB", m_rep <= 300),
                result(f"tax: manage.py tax_report --format 8949, {n:,} trades (median)", t_f, "s",
                       "<=10 s (aim <=2 s)" if big else "informational", t_f <= 10 or not big),
                result(f"tax: tax_report 8949 peak memory, {n:,} trades", m_f, "MB", "<=300 MB", m_f <= 300),
            ]  # fmt: skip
    for kind in ("import", "report json"):
        growth = figures[(kind, 100_000)][0] / figures[(kind, 10_000)][0]
        out.append(result(f"tax: {kind} time growth 10k -> 100k trades (10x the trades)", growth, "x", "<=11x",
                          growth <= 11))  # fmt: skip
    return out


def run() -> list[dict]:
    return _sale_closing_1000_lots() + _import_and_report_at_scale()
