"""TWAP benchmarks.

- ``plan()`` for 390 slices (budget < 1 ms, aim < 0.2 ms);
- persisting a parent with 390 scheduled children on PostgreSQL (budget < 100 ms, aim < 30 ms);
- dispatch lateness p50/p99 with a real Celery worker and beat on Redis (budget p99 <= 1 s):
  ``submitted_at`` (the exchange's receipt) minus ``scheduled_time`` for 30 slices over 29 s;
- TWAP vs one order of the same size on historical days of the bundled OHLCV file (real volume),
  priced by the simulated exchange's own path and fill functions (orders/tca.py): the reduction of
  market impact (reference success criterion > 20 %).
"""

from __future__ import annotations

import datetime as dt
import timeit
import uuid
from decimal import Decimal
from pathlib import Path

from bench.util import median, percentile, result

DATA = Path("/work/shared/data/stocks-ohlcv-2000-2013.csv.gz")
if not DATA.exists():
    DATA = Path(__file__).resolve().parents[1] / "var" / "data" / "stocks-ohlcv-2000-2013.csv.gz"


def _plan() -> list[dict]:
    from orders.twap import plan

    start = dt.datetime(2025, 3, 3, 14, 30, tzinfo=dt.UTC)
    horizon = dt.timedelta(minutes=390)
    out = []
    for label, qty in (("integer 100,000 shares", Decimal(100_000)), ("fractional 1234.567891234", Decimal("1234.567891234"))):
        timer = timeit.Timer(lambda qty=qty: plan(total_qty=qty, n_slices=390, horizon=horizon, start=start))
        samples = [t / 50 * 1000 for t in timer.repeat(repeat=30, number=50)]
        value = median(samples)
        out.append(result(f"TWAP plan() 390 slices, {label} (median)", value, "ms", "<1 ms", value < 1.0))
    return out


def _asset(symbol: str, *, price: str, volume: str) -> None:
    from marketdata.models import Asset, Bar
    from trading_site.lib import clock

    asset, _ = Asset.objects.get_or_create(symbol=symbol, defaults={"name": symbol})
    today = clock.now().astimezone(clock.NEW_YORK).date()
    p = Decimal(price)
    Bar.objects.get_or_create(asset=asset, session=today,
                              defaults={"open": p, "high": p, "low": p, "close": p, "volume": Decimal(volume)})


def _persist() -> list[dict]:
    import time

    from orders.slicing import twap_order_place

    _asset("TWAPB", price="50", volume="5000000")
    samples = []
    for _ in range(15):
        started = time.perf_counter()
        # 780 shares at $50 = $39,000: within the default risk limits, which creation now checks on the
        # whole parent (a $5M parent would be refused before any row is written)
        twap_order_place(symbol="TWAPB", side="buy", qty="780", slices=390, horizon_minutes=390, actor=None,
                          source="api", client_order_id=f"bench-{uuid.uuid4().hex[:16]}")
        samples.append((time.perf_counter() - started) * 1000)
    value = median(samples)
    return [result("TWAP create parent + 390 children, PostgreSQL (median)", value, "ms", "<100 ms", value < 100)]


def _lateness() -> list[dict]:
    import tempfile

    from orders.models import Order
    from orders.slicing import twap_order_place
    from tests.processes import celery_command, child_env, log_tail, running, wait_for
    from trading_site.lib import clock

    _asset("TWAPL", price="50", volume="5000000")
    env = child_env(SIM_MARKET_HOURS="always", PYTHONUNBUFFERED="1")
    commands = {
        "beat": celery_command("beat", "-l", "INFO"),
        "worker": celery_command("worker", "-Q", "twap,orders", "-c", "1", "--pool", "solo", "-l", "INFO",
                                 "-n", f"bench-{uuid.uuid4().hex[:6]}@%h", "--without-gossip", "--without-mingle"),
    }
    with tempfile.TemporaryDirectory() as tmp, running(commands, env, Path(tmp)):
        log_dir = Path(tmp)
        wait_for(lambda: "ready." in log_tail(log_dir, "worker", 400), timeout=90, what="worker ready")
        parent = twap_order_place(symbol="TWAPL", side="buy", qty="300", slices=30, horizon_minutes=Decimal("0.5"),
                                   actor=None, source="api", start_time=clock.now() + dt.timedelta(seconds=3)).order
        wait_for(lambda: not parent.children.filter(status__in=["scheduled", "submitting"]).exists(),
                 timeout=120, what="all slices sent")
    late = [
        (sub - sched).total_seconds() * 1000
        for sched, sub in Order.objects.filter(parent_order=parent).values_list("scheduled_time", "submitted_at")
        if sub is not None
    ]
    p50, p99 = percentile(late, 50), percentile(late, 99)
    return [
        result(f"TWAP dispatch lateness p50 ({len(late)} slices, real worker + beat)", p50, "ms", "<=1000 ms p99",
               p50 <= 1000),
        result(f"TWAP dispatch lateness p99 ({len(late)} slices, real worker + beat)", p99, "ms", "<=1000 ms",
               p99 <= 1000),
    ]


def _impact() -> list[dict]:
    import pandas as pd

    from marketdata.selectors import BarData
    from orders.tca import study_summarize, twap_vs_single_day

    frame = pd.read_csv(DATA, parse_dates=["Date"])
    days = []
    for symbol in ("AAPL", "IBM", "MSFT"):
        rows = frame[frame["Ticker"] == symbol].sort_values("Date").reset_index(drop=True)
        rows["adv"] = rows["Volume"].rolling(20).mean().shift(1)
        sample = rows.dropna(subset=["adv"]).iloc[::40]  # ~80 days per symbol spread over 2000-2013
        for r in sample.itertuples():
            bar = BarData(symbol=symbol, session=r.Date.date(), open=Decimal(str(r.Open)), high=Decimal(str(r.High)),
                          low=Decimal(str(r.Low)), close=Decimal(str(r.Close)), volume=Decimal(int(r.Volume)))
            adv = Decimal(int(r.adv))
            qty = (adv * Decimal("0.05")).to_integral_value()  # an order of 5 % of ADV
            days.append(twap_vs_single_day(bar=bar, adv=adv, side="buy", qty=qty, slices=30, horizon_minutes=60))
    s = study_summarize(days)
    return [
        result(f"TWAP vs single order: market-impact reduction ({s.days} days, 5% ADV, 30 slices/60 min; "
               f"{s.twap_impact_bps} vs {s.single_impact_bps} bps)", float(s.impact_reduction_pct), "%", ">20 %",
               s.impact_reduction_pct > 20),
        result(f"TWAP vs single order: total cost incl. half-spread and tick ({s.twap_cost_bps} vs "
               f"{s.single_cost_bps} bps) — reduction", float(s.cost_reduction_pct), "%", "reported", True),
    ]


def run() -> list[dict]:
    from django.test import override_settings

    from orders.brokers import use_broker
    from orders.brokers.simulated import SimulatedBroker

    out = _plan()
    with override_settings(SIM_MARKET_HOURS="always"), use_broker(SimulatedBroker(market_hours="always")):
        out += _persist()
        out += _lateness()
    out += _impact()
    return out
