"""Tax benchmarks on PostgreSQL.

1. A single sale that closes 1,000 lots, through the fill listener (load the open lots, relieve them,
   write 1,000 realized rows and the closures, commit). Budget < 100 ms, aim < 20 ms. Median of runs.
2. Import of 100,000 trades (CSV text → parsed → lot engine with wash sales → bulk writes, one
   transaction). Budget ≤ 33 s, aim ≤ 5 s. The engine-only time is reported alongside.

Data are deterministic (seeded): 1,000 lots bought at prices scattered around the sale price, and
for the import 500 symbols with random-walk prices, buys and sells interleaved so that positions stay
long and many sales are losses followed by repurchases (see ``_trades_csv``). The import's counts of
wash-sale matches and realized rows are printed with the result: wash-sale fragmentation (a loss
sold out of many lots splits the next purchase into as many replacement lots) is what makes this
workload heavy, and a book trading each symbol every few days produces several times more rows.
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


def _trades_csv(n: int) -> str:
    """A systematic book: 500 symbols, 40 orders a day over ~7 years (each symbol traded about every
    12 days); buys of 10-200 shares; a sale is a full exit (1 in 4) or trims 5-35 % of the position;
    prices random-walk (2 % per trade), so about half the sales are losses, most of them repurchased
    within 30 days (wash sales)."""
    rng = random.Random(2024)
    symbols = [f"S{i:03d}" for i in range(500)]
    price = {s: 20.0 + i / 5 for i, s in enumerate(symbols)}
    held = dict.fromkeys(symbols, 0)
    lines = ["date,side,symbol,qty,price,trade_id,commission"]
    day = dt.date(2000, 1, 3)
    per_day = 40
    for i in range(n):
        if i and i % per_day == 0:
            day += dt.timedelta(days=1)
        s = rng.choice(symbols)
        price[s] = max(1.0, price[s] * (1 + rng.gauss(0, 0.02)))
        if held[s] > 0 and rng.random() < 0.45:
            side = "sell"
            qty = held[s] if rng.random() < 0.25 else max(1, int(held[s] * rng.uniform(0.05, 0.35)))
            held[s] -= qty
        else:
            side = "buy"
            qty = rng.randint(1, 20) * 10
            held[s] += qty
        lines.append(f"{day},{side},{s},{qty},{price[s]:.2f},t{i},{'1.00' if i % 3 == 0 else ''}")
    return "\n".join(lines) + "\n"


def _import_100k() -> list[dict]:
    from django.db import transaction

    from tax.csvio import parse_trades
    from tax.engine import SymbolBook
    from tax.models import RealizedGain, TaxTrade, WashSale
    from tax.services import trades_import

    text = _trades_csv(IMPORT_TRADES)
    # engine only (no database), for reference
    trades = parse_trades(text)
    started = time.perf_counter()
    books: dict[str, SymbolBook] = {}
    for _, t in sorted(trades, key=lambda item: (item[1].date, item[0])):
        book = books.get(t.symbol) or books.setdefault(t.symbol, SymbolBook(symbol=t.symbol))
        book.buy(t) if t.side == "buy" else book.sell(t)
    engine_s = time.perf_counter() - started
    started = time.perf_counter()
    with transaction.atomic():
        summary = trades_import(trades=parse_trades(text), account="bench-import")
    total_s = time.perf_counter() - started
    assert TaxTrade.objects.filter(account="bench-import").count() == IMPORT_TRADES
    washes = WashSale.objects.filter(account="bench-import").count()
    assert washes == summary.wash_sales > 0
    rows = RealizedGain.objects.filter(account="bench-import").count()
    return [
        result(
            f"tax: import 100,000 trades, wash sales on ({washes} wash matches, {rows} realized rows), end to end",
            total_s,
            "s",
            "<=33 s (aim <=5 s)",
            total_s <= 33,
        ),
        result("tax: lot engine alone on the same 100,000 trades (no database)", engine_s, "s", "informational", True),
    ]


def run() -> list[dict]:
    return _sale_closing_1000_lots() + _import_100k()
