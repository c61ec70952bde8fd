"""Console benchmark: the dashboard, its live-figures partial and the orders list under 10 concurrent
clients, with 10,000 orders and 100 open positions in PostgreSQL, served by gunicorn as in production.

Setup (not measured): 100 assets with a daily bar each (the simulated exchange quotes from them),
100 positions, 10,000 orders (every 10th a TWAP parent with 4 children), 2,000 account snapshots for
the equity curve, 20 alerts, heartbeats, and a logged-in viewer whose session cookie the clients send.
A real gunicorn (``WEB_WORKERS`` × ``WEB_THREADS``, as ``make run``) serves the benchmark database; 10 client threads each issue
40 requests per page. Budget: server p95 < 100 ms per page — the time gunicorn reports for each
request (``%(D)s`` in its access log: from the request read to the response written); the latency the
clients observe, which adds queueing for the web workers, is reported beside it. The dashboard
fragments and the orders table are shared between users for 1-5 s and re-rendered by one request when
they expire, the others getting the previous copy meanwhile (see ``console.views``); the orders
list is also measured with every request a different URL (nothing shared) and reported. The query count of each page is measured
in-process (Django test client, warm caches) and must equal the count the tests pin.
"""

from __future__ import annotations

import datetime as dt
import http.client
import random
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

from bench.util import gunicorn_server, median, percentile, result

CLIENTS = 10
REQUESTS_PER_CLIENT = 40
ORDERS = 10_000
POSITIONS = 100
PAGES = (("dashboard", "/", 18), ("figures partial", "/partials/figures/", 7), ("orders list", "/orders/", 8))


def _seed() -> None:
    from marketdata.models import Asset, Bar
    from orders.models import AccountSnapshot, Order, Position
    from risk.services import risk_defaults_ensure
    from trading_site.health import heartbeat_record
    from trading_site.lib import clock
    from trading_site.models import Alert

    rng = random.Random(7)
    now = clock.now()
    risk_defaults_ensure()
    heartbeat_record(name="worker")
    heartbeat_record(name="beat")
    symbols = [f"B{i:03d}" for i in range(POSITIONS)]
    assets = Asset.objects.bulk_create([Asset(symbol=s, name=s) for s in symbols])
    session = clock.today_ny() - dt.timedelta(days=1)
    bars = []
    for a in assets:
        p = Decimal(rng.randint(2000, 40000)) / 100
        bars.append(Bar(asset=a, session=session, open=p, high=p, low=p, close=p, volume=Decimal(1_000_000)))
    spx = Asset.objects.create(symbol="SPX", name="S&P 500 index", tradable=False)  # the charts' benchmark
    closes = [Decimal(5000 + rng.randint(-200, 200)) for _ in range(400)]
    bars += [Bar(asset=spx, session=session - dt.timedelta(days=d), open=c, high=c, low=c, close=c)
             for d, c in enumerate(closes)]
    Bar.objects.bulk_create(bars)
    Position.objects.bulk_create([
        Position(symbol=s, qty=Decimal(rng.randint(1, 500)), avg_cost=Decimal(rng.randint(2000, 40000)) / 100,
                 realized_pnl=Decimal(rng.randint(-5000, 5000)), updated_at=now)
        for s in symbols
    ])
    statuses = ["filled", "filled", "filled", "canceled", "rejected", "accepted"]
    rows = []
    for i in range(ORDERS):
        created = now - dt.timedelta(minutes=ORDERS - i)
        status = statuses[i % len(statuses)]
        qty = Decimal(rng.randint(1, 200))
        rows.append(Order(
            client_order_id=f"bench-{i}", symbol=rng.choice(symbols), side=rng.choice(["buy", "sell"]), qty=qty,
            status=status, filled_qty=qty if status == "filled" else Decimal(0),
            filled_notional=qty * 100 if status == "filled" else Decimal(0),
            avg_fill_price=Decimal(100) if status == "filled" else None, reference_price=Decimal(100),
            source=rng.choice(["signal", "manual", "api"]), created_at=created, updated_at=created,
        ))
    orders = Order.objects.bulk_create(rows, batch_size=2000)
    children = []
    for parent in orders[-1::-10]:  # TWAP parents, on one symbol (the TCA reads its ADV once per page)
        parent.symbol, parent.total_slices, parent.status = "B000", 4, "scheduled"
        for k in range(4):
            children.append(Order(
                client_order_id=f"{parent.client_order_id}-s{k}", symbol=parent.symbol, side=parent.side,
                qty=Decimal(5), status="filled" if k < 2 else "scheduled",
                filled_qty=Decimal(5) if k < 2 else Decimal(0), filled_notional=Decimal(505) if k < 2 else Decimal(0),
                source="twap", parent_order=parent, slice_num=k + 1, total_slices=4,
                created_at=parent.created_at, updated_at=parent.created_at,
            ))
    Order.objects.bulk_update(orders[-1::-10], ["symbol", "total_slices", "status"], batch_size=2000)
    Order.objects.bulk_create(children, batch_size=2000)
    AccountSnapshot.objects.bulk_create([
        AccountSnapshot(time=now - dt.timedelta(minutes=5 * (2000 - i)), cash=Decimal(50000),
                        equity=Decimal(100000) + Decimal(rng.randint(-3000, 3000)), buying_power=Decimal(50000),
                        broker="simulated")
        for i in range(2000)
    ])
    Alert.objects.bulk_create([Alert(created_at=now, source="bench", message=f"bench alert {i}", metric="bench")
                               for i in range(20)])
    from django.db import connection

    with connection.cursor() as cursor:  # planner statistics, as autovacuum keeps them in production
        cursor.execute("ANALYZE")


def _session_cookie() -> str:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from trading_site.accounts import roles_ensure

    user = get_user_model().objects.create_user(username="bench-viewer", password="bench-password-unused")
    user.groups.add(roles_ensure()["viewer"])
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def _query_counts() -> dict[str, int]:
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from console.views import FIGURES_CACHE_KEY, STATUS_CACHE_KEY, orders_changed
    from orders import selectors

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-viewer"))
    counts = {}
    saved = selectors._PRICE_TTL
    selectors._PRICE_TTL = 3600.0  # measure the page, not the quote cache's clock
    try:
        for name, path, _ in PAGES:
            client.get(path)
            cache.delete_many([FIGURES_CACHE_KEY, STATUS_CACHE_KEY])  # count the full computation
            orders_changed()
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}")
            counts[name] = len(ctx.captured_queries)
    finally:
        selectors._PRICE_TTL = saved
    return counts


def _load(port: int, path: str, cookie: str, *, clients: int = CLIENTS, unique: bool = False
          ) -> tuple[list[float], float]:
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []

    def client():
        mine = []
        for i in range(REQUESTS_PER_CLIENT):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            # unique: a parameter the page ignores makes every request miss the shared orders table
            url = f"{path}?n={threading.get_ident()}-{i}" if unique else path
            start = time.perf_counter()
            conn.request("GET", url, headers={"Cookie": cookie})
            response = conn.getresponse()
            body = response.read()
            mine.append((time.perf_counter() - start) * 1000)
            conn.close()
            if response.status != 200 or not body:  # a lost session would be a 302 to the login page
                errors.append(f"{path} answered {response.status}")
                return
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(errors[0])
    return latencies, len(latencies) / (time.perf_counter() - started)


def _log_lines(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def _server_times(log: Path, *, skip: int, path: str) -> list[float]:
    """Server time per request (gunicorn's %(D)s, microseconds → ms) from the access log lines after ``skip``."""
    deadline = time.monotonic() + 5
    while True:  # gunicorn writes the log line after the response; give the last ones a moment
        lines = log.read_text().splitlines()[skip:]
        times = [int(d) / 1000 for u, d in (line.split() for line in lines) if u == path]
        if len(times) >= CLIENTS * REQUESTS_PER_CLIENT or time.monotonic() > deadline:
            return times
        time.sleep(0.1)


def run() -> list[dict]:
    _seed()
    cookie = _session_cookie()
    counts = _query_counts()
    out = [result(f"{name} queries ({ORDERS:,} orders, {POSITIONS} positions)", counts[name], "queries",
                  f"= {pinned} (pinned by the tests)", counts[name] == pinned) for name, _, pinned in PAGES]
    access_log = Path(tempfile.mkdtemp(prefix="bench-console-")) / "access.log"
    with gunicorn_server("trading_site.wsgi:application",
                         args=("--access-logfile", str(access_log), "--access-logformat", "%(U)s %(D)s")) as port:
        for _, path, _ in PAGES:  # warm-up: imports, templates, connections
            _load(port, path, cookie)
        for name, path, _ in PAGES:
            single, _ = _load(port, path, cookie, clients=1)
            out.append(result(f"{name} latency, 1 client (p50)", median(single), "ms", "report", True))
            seen = _log_lines(access_log)
            latencies, rps = _load(port, path, cookie)
            server = _server_times(access_log, skip=seen, path=path)
            p95 = percentile(server, 95)
            out.append(result(f"{name} server p95, 10 clients", p95, "ms", "<100 ms", p95 < 100))
            out.append(result(f"{name} server p50, 10 clients", median(server), "ms", "report", True))
            out.append(result(f"{name} client-observed p95, 10 clients", percentile(latencies, 95), "ms", "report",
                              True))
            out.append(result(f"{name} throughput, 10 clients", rps, "req/s", "report", True))
        # The orders list when nothing is shared (every request a different URL): the cost of a render.
        single, _ = _load(port, "/orders/", cookie, clients=1, unique=True)
        out.append(result("orders list uncached latency, 1 client (p50)", median(single), "ms", "report", True))
        seen = _log_lines(access_log)
        latencies, _ = _load(port, "/orders/", cookie, unique=True)
        server = _server_times(access_log, skip=seen, path="/orders/")
        out.append(result("orders list uncached server p95, 10 clients", percentile(server, 95), "ms", "report", True))
    return out
