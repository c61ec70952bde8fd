"""Orders benchmarks: the order API under load through gunicorn, and the gateway in-process.

1. API: a real gunicorn (2 workers × 4 threads, as ``make run``) serves the benchmark database
   with the simulated exchange; 8 client threads POST 1-share market orders with distinct
   ``client_order_id``s (token auth). Each accepted order is validated, checked, committed, sent to
   the simulated exchange, filled and booked into the position before the 201. Budget: ≥200
   accepted orders/s on 2 cores and p95 < 50 ms (SPEC §5).
2. Gateway: ``order_submit`` called directly (same work minus HTTP): p50/p95 per order.

Both measure the execution core with the pre-trade registry emptied: other apps' checks have their
own budget (p95 < 2 ms together, see ``orders/pretrade.py``), and the risk app's default limits
(60 orders/minute, regular market hours) would refuse a load test by design. The gunicorn workers
load :func:`wsgi_without_pretrade` for the same reason.
"""

from __future__ import annotations

import datetime as dt
import http.client
import itertools
import json
import threading
import time
from decimal import Decimal

from bench.util import clients_run, gunicorn_server, percentile, result

CLIENTS = 8
ORDERS_PER_CLIENT = 150
GATEWAY_ORDERS = 300
# Orders spread over 20 symbols, as a rebalance would; one symbol would serialise every fill on its
# position row and measure lock waits rather than the execution path.
SYMBOLS = [f"BENCH{i:02d}" for i in range(20)]



def _market_data() -> None:
    from strategies.models import Asset, Bar

    today = dt.datetime.now(dt.UTC).date()
    for symbol in [*SYMBOLS, "BENCHGW"]:
        asset, _ = Asset.objects.get_or_create(symbol=symbol, defaults={"name": symbol})
        Bar.objects.get_or_create(
            asset=asset, session=today - dt.timedelta(days=1),
            defaults={"open": Decimal("100"), "high": Decimal("101"), "low": Decimal("99"), "close": Decimal("100.5"),
                      "volume": Decimal("5000000")},
        )


def _token() -> str:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from trading_site.accounts import roles_ensure

    user, _ = get_user_model().objects.get_or_create(username="bench-operator")
    user.groups.add(roles_ensure()["operator"])
    return Token.objects.get_or_create(user=user)[0].key


def _api_load(port: int, token: str, run: str) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    accepted = [0]
    lock = threading.Lock()
    errors: list[str] = []

    numbers = itertools.count()

    def client() -> None:
        n = next(numbers)
        mine, ok = [], 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(ORDERS_PER_CLIENT):
            # A buy, then a sell of the same symbol by the same client: positions never go short
            # (the tax ledger refuses short sales).
            body = json.dumps({"symbol": SYMBOLS[(n * 7 + i // 2) % len(SYMBOLS)], "side": "buy" if i % 2 == 0 else "sell",
                               "qty": "1",
                               "client_order_id": f"bench-{run}-{n}-{i}"})
            start = time.perf_counter()
            conn.request("POST", "/api/v1/orders/", body=body,
                         headers={"Content-Type": "application/json", "Authorization": f"Token {token}"})
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - start) * 1000)
            if response.status == 201:
                ok += 1
            elif len(errors) < 3:
                errors.append(f"{response.status}")
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.close()
        with lock:
            latencies.extend(mine)
            accepted[0] += ok

    elapsed = clients_run(client, clients=CLIENTS)
    if errors:
        print(f"   non-201 answers, e.g. {errors}", flush=True)
    return latencies, accepted[0] / elapsed, accepted[0]


def _gateway() -> list[float]:
    from orders.brokers import use_broker
    from orders.brokers.simulated import SimulatedBroker
    from orders.gateway import order_submit

    latencies = []
    with use_broker(SimulatedBroker(market_hours="always")):
        for i in range(GATEWAY_ORDERS):
            start = time.perf_counter()
            order = order_submit(symbol="BENCHGW", side="buy" if i % 2 == 0 else "sell", qty="1", source="api",
                                 client_order_id=f"bench-gw-{i}")
            latencies.append((time.perf_counter() - start) * 1000)
            if order.status != "filled":
                raise RuntimeError(f"gateway order not filled: {order.status}")
    return latencies


def wsgi_without_pretrade():
    """gunicorn factory: the platform's WSGI app with the pre-trade registry emptied (see above)."""
    from orders import pretrade
    from trading_site.wsgi import application

    pretrade._checks.clear()
    return application


def run() -> list[dict]:

    from orders import pretrade

    _market_data()
    token = _token()
    out = []
    saved = dict(pretrade._checks)
    pretrade._checks.clear()
    try:
        lat = _gateway()
    finally:
        pretrade._checks.update(saved)
    p95 = percentile(lat, 95)
    out.append(result("gateway order_submit p50 (sim fill + booking)", percentile(lat, 50), "ms", "report", True))
    out.append(result("gateway order_submit p95", p95, "ms", "<20 ms", p95 < 20))

    with gunicorn_server("bench.bench_orders:wsgi_without_pretrade()",
                         env={"SIM_MARKET_HOURS": "always", "BROKER": "simulated"}) as port:
        _api_load(port, token, "warm")
        latencies, rate, accepted = _api_load(port, token, "run")
    p95 = percentile(latencies, 95)
    out.append(result(f"order API accepted orders/s, {CLIENTS} clients, {accepted} orders, no pre-trade checks", rate, "orders/s",
                      ">=200/s", rate >= 200))
    out.append(result("order API p95 latency", p95, "ms", "<50 ms", p95 < 50))
    out.append(result("order API p50 latency", percentile(latencies, 50), "ms", "report", True))
    return out
