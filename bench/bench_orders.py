"""Orders benchmarks: the order API under load through gunicorn, and the gateway in-process.

1. API intake: a real gunicorn (``WEB_WORKERS`` × ``WEB_THREADS``, as ``make run``) serves the
   benchmark database with the simulated exchange in its running-platform mode
   (``SIM_FILL_DELIVERY=stream``). 8 client threads POST 1-share market orders with distinct
   ``client_order_id``s (token auth). An order is *accepted* when the API answers 201: validated,
   checked, committed, sent to the exchange and acknowledged (the exchange has executed it; the
   fill waits in its outbox for the trade stream). Three rounds of 1,200 orders; the medians are
   the figures. Budget: ≥200 accepted orders/s on 2 cores and p95 < 50 ms (SPEC §5).
2. Booking: then the trade-stream process (``manage.py run_trade_stream``) starts and books every
   waiting fill into orders, positions, tax lots and risk state; reported as fills booked per
   second.
3. Alongside: one more round with the trade stream running during the load, both on the same two
   cores, as ``make run`` runs them; reported (accepted orders/s, p95, and how long after the last
   answer the last fill was booked).
4. Gateway: ``order_place`` called directly (same work minus HTTP): p50/p95 per order, with the
   exchange's fills booked inside the call (``inline``, as replay does) and without (``stream``).

Everything runs with the pre-trade registry emptied: other apps' checks have their own budget (p95
< 2 ms together, see ``orders/pretrade.py``), and the risk app's default limits (60 orders/minute,
regular market hours) would refuse a load test by design. The gunicorn workers load
:func:`wsgi_without_pretrade` for the same reason.
"""

from __future__ import annotations

import datetime as dt
import http.client
import itertools
import json
import sys
import threading
import time
from decimal import Decimal

from bench.util import clients_run, gunicorn_server, median, percentile, platform_process, result

CLIENTS = 8
ORDERS_PER_CLIENT = 150
ROUNDS = 3
GATEWAY_ORDERS = 300
# Orders spread over 20 symbols, as a rebalance would; one symbol would serialise every fill on its
# position row and measure lock waits rather than the execution path.
SYMBOLS = [f"BENCH{i:02d}" for i in range(20)]



def _market_data() -> None:
    from marketdata.models import Asset, Bar

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

    from trading_site.accounts import roles_ensure
    from trading_site.tokens import token_issue

    user, _ = get_user_model().objects.get_or_create(username="bench-operator")
    user.groups.add(roles_ensure()["operator"])
    return token_issue(user=user, name="bench").key


def _api_load(port: int, token: str, run: str, *, per_client: int = ORDERS_PER_CLIENT) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    accepted = [0]
    lock = threading.Lock()
    errors: list[str] = []

    numbers = itertools.count()

    def client() -> None:
        n = next(numbers)
        mine, ok = [], 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(per_client):
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


def _gateway(*, fill_delivery: str) -> list[float]:
    from orders.brokers import use_broker
    from orders.brokers.simulated import SimulatedBroker
    from orders.fills import updates_pump
    from orders.gateway import order_place

    latencies = []
    expected = "filled" if fill_delivery == "inline" else "accepted"
    broker = SimulatedBroker(market_hours="always", fill_delivery=fill_delivery)
    with use_broker(broker):
        for i in range(GATEWAY_ORDERS):
            start = time.perf_counter()
            order = order_place(symbol="BENCHGW", side="buy" if i % 2 == 0 else "sell", qty="1", source="api",
                                 client_order_id=f"bench-gw-{fill_delivery}-{i}").order
            latencies.append((time.perf_counter() - start) * 1000)
            if order.status != expected:
                raise RuntimeError(f"gateway order {order.status}, expected {expected}")
            if fill_delivery == "stream":
                updates_pump(broker=broker)  # book it (untimed) so the next sell has a lot to close
    return latencies


def _unbooked() -> int:
    from orders.models import Order

    return Order.objects.filter(client_order_id__startswith="bench-", status="accepted").count()


def _booked_wait(expected: int, *, timeout: float = 300.0) -> float:
    """Seconds until no benchmark order waits for its fill (``expected`` of them did)."""
    start = time.perf_counter()
    while True:
        left = _unbooked()
        if left == 0:
            return time.perf_counter() - start
        if time.perf_counter() - start > timeout:
            raise RuntimeError(f"{left} of {expected} fills not booked after {timeout:.0f} s")
        time.sleep(0.05)


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
        inline = _gateway(fill_delivery="inline")
        stream = _gateway(fill_delivery="stream")
    finally:
        pretrade._checks.update(saved)
    out.append(result("gateway order_place p50, fills booked inside (inline)", percentile(inline, 50), "ms", "report", True))
    out.append(result("gateway order_place p50, fills streamed (stream)", percentile(stream, 50), "ms", "report", True))
    p95 = percentile(stream, 95)
    out.append(result("gateway order_place p95, fills streamed (stream)", p95, "ms", "<20 ms", p95 < 20))

    env = {"SIM_MARKET_HOURS": "always", "BROKER": "simulated", "SIM_FILL_DELIVERY": "stream"}
    rates, p95s, p50s = [], [], []
    with gunicorn_server("bench.bench_orders:wsgi_without_pretrade()", env=env) as port:
        _api_load(port, token, "warm", per_client=ORDERS_PER_CLIENT // 3)
        for n in range(ROUNDS):
            latencies, rate, accepted = _api_load(port, token, f"run{n}")
            rates.append(rate)
            p95s.append(percentile(latencies, 95))
            p50s.append(percentile(latencies, 50))
            print(f"   round {n + 1}: {rate:.1f} accepted orders/s, p95 {p95s[-1]:.1f} ms", flush=True)
        waiting = _unbooked()
        with platform_process([sys.executable, "manage.py", "run_trade_stream"], env=env):
            drained = _booked_wait(waiting)
            latencies, along_rate, accepted = _api_load(port, token, "along")
            lag = _booked_wait(accepted)
    rate, p95 = median(rates), median(p95s)
    out.append(result(f"order API accepted orders/s, {CLIENTS} clients, median of {ROUNDS} × {CLIENTS * ORDERS_PER_CLIENT}",
                      rate, "orders/s", ">=200/s", rate >= 200))
    out.append(result("order API p95 latency, median of the rounds", p95, "ms", "<50 ms", p95 < 50))
    out.append(result("order API p50 latency, median of the rounds", median(p50s), "ms", "report", True))
    out.append(result(f"trade stream booking {waiting} waiting fills (orders, positions, tax lots, risk)",
                      waiting / drained, "fills/s", "report", True))
    out.append(result("order API accepted orders/s with the trade stream booking alongside", along_rate, "orders/s",
                      "report", True))
    out.append(result("order API p95 with the trade stream booking alongside", percentile(latencies, 95), "ms",
                      "report", True))
    out.append(result("alongside: last fill booked after the last answer", lag, "s", "report", True))
    return out
