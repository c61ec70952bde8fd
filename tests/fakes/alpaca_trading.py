"""A small local fake of Alpaca's trading REST API, its ``trade_updates`` websocket and latest quotes.

It speaks the wire format alpaca-py's ``TradingClient``, ``TradingStream`` (raw JSON) and
``StockHistoricalDataClient.get_stock_latest_quote`` expect, on 127.0.0.1 with random free ports,
in background threads. Point alpaca-py at it with ``url_override``::

    with FakeAlpaca() as fake:
        client = TradingClient("key", "secret", url_override=fake.base_url)

Behaviour:
- ``POST /v2/orders``: duplicate ``client_order_id`` → 422 code 40010001; notional above buying
  power → 403 code 40310000; sub-penny limit → 422 code 42210000; otherwise ``accepted``.
- ``fail_next(method, path, status, body)`` scripts failures (e.g. 429, 500) for the next matching
  requests; ``delay_next(...)`` processes a request and then sleeps (an answer lost to a timeout).
- ``fault(mode, method=..., path=..., times=...)`` injects one of the faults a real broker shows, for
  the next ``times`` matching requests (``times=None``: until ``faults_clear()``):
  ``slow`` (registers and answers after ``seconds``, 7 by default), ``hang`` (holds the request
  ``seconds`` — past the client's timeout — then drops it; nothing is registered), ``500_before``
  (500, nothing registered), ``500_after`` (registers, then answers 500), ``drop_after`` (registers,
  then closes the connection without an answer), ``429`` (refuses; ``429_twice`` = ``fault("429",
  times=2)``, ``429_always`` = ``fault("429", times=None)``).
- ``fault_cycle(modes, every=n)``: every n-th ``POST /v2/orders`` gets the next fault of ``modes``
  in turn (``429_twice`` and ``429_always`` expand to 2 and ``retries + 1`` consecutive 429s).
- ``autofill(after=...)``: a background thread executes every open market order in two parts (half,
  then the rest), ``after`` seconds apart, at the ask, pushing the trade updates like ``fill``.
- ``request_log`` holds every request with its arrival time (``time.monotonic()``), query and answer.
- ``fill(client_order_id, qty, price)`` executes part or all of an order and pushes a
  ``partial_fill``/``fill`` trade update to every subscribed websocket.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from websockets.sync.server import serve as ws_serve

KEY, SECRET = "fake-key", "fake-secret"
OPEN = ("new", "accepted", "partially_filled", "pending_new")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


def _s(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return text


@dataclass
class FakeOrder:
    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal
    type: str
    time_in_force: str
    limit_price: Decimal | None
    extended_hours: bool
    status: str = "accepted"
    filled_qty: Decimal = Decimal(0)
    filled_notional: Decimal = Decimal(0)
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    filled_at: str | None = None
    canceled_at: str | None = None
    asset_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def filled_avg_price(self) -> Decimal | None:
        if not self.filled_qty:
            return None
        return (self.filled_notional / self.filled_qty).quantize(Decimal("0.0001"))

    def as_json(self) -> dict:
        return {
            "id": self.id, "client_order_id": self.client_order_id, "created_at": self.created_at,
            "updated_at": self.updated_at, "submitted_at": self.created_at, "filled_at": self.filled_at,
            "expired_at": None, "canceled_at": self.canceled_at, "failed_at": None, "replaced_at": None,
            "replaced_by": None, "replaces": None, "asset_id": self.asset_id, "symbol": self.symbol,
            "asset_class": "us_equity", "notional": None, "qty": _s(self.qty), "filled_qty": _s(self.filled_qty),
            "filled_avg_price": _s(self.filled_avg_price), "order_class": "simple", "order_type": self.type,
            "type": self.type, "side": self.side, "time_in_force": self.time_in_force,
            "limit_price": _s(self.limit_price), "stop_price": None, "status": self.status,
            "extended_hours": self.extended_hours, "legs": None, "trail_percent": None, "trail_price": None,
            "hwm": None,
        }


@dataclass
class _Scripted:
    method: str
    path: str
    status: int
    body: dict | None
    delay: float = 0.0
    mode: str = ""  # a fault() mode; "" for fail_next/delay_next
    times: int | None = 1  # None: until faults_clear()


FAULT_MODES = ("slow", "hang", "500_before", "500_after", "drop_after", "429")


@dataclass
class LoggedRequest:
    at: float  # time.monotonic() on arrival
    method: str
    path: str
    query: dict
    client_order_id: str | None
    key_id: str | None
    outcome: str = ""  # "200", "429", "dropped"...


class FakeAlpaca:
    def __init__(self, *, cash: Decimal = Decimal("100000"), pattern_day_trader: bool | None = None) -> None:
        self.lock = threading.RLock()
        self.orders: dict[str, FakeOrder] = {}
        self.by_client_id: dict[str, FakeOrder] = {}
        self.cash = cash
        self.buying_power = cash
        self.pattern_day_trader = pattern_day_trader
        self.positions: dict[str, tuple[Decimal, Decimal]] = {}  # symbol → (signed qty, avg price)
        self.quotes: dict[str, tuple[Decimal, Decimal]] = {}
        self.requests: list[tuple[str, str, dict | None]] = []
        self.request_log: list[LoggedRequest] = []
        self.keys: set[tuple[str, str]] = {(KEY, SECRET)}  # accepted key pairs (a rotation swaps them)
        self.scripted: list[_Scripted] = []
        self.subscribers: list = []
        self.subscribed = threading.Event()
        self.stream_auths: list[tuple[str | None, bool]] = []  # (key id, authorized) per websocket login
        self._conn_keys: dict[int, str | None] = {}  # id(websocket) → the key id it logged in with
        self._cycle: tuple[tuple[str, ...], int, int] | None = None  # (modes, every, retries)
        self._cycle_count = 0
        self.faults_applied: list[tuple[str, str | None]] = []  # (mode, client_order_id)
        self._autofill_stop = threading.Event()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._http.daemon_threads = True
        self._ws = ws_serve(self._ws_handler, "127.0.0.1", 0)
        self._threads: list[threading.Thread] = []

    # --- lifecycle --------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    @property
    def stream_url(self) -> str:
        return f"ws://127.0.0.1:{self._ws.socket.getsockname()[1]}/stream"

    def start(self) -> FakeAlpaca:
        # The HTTP server's shutdown() waits for its loop to look at the flag: every poll_interval (0.5 s
        # by default); the websocket server's shutdown() closes its socket.
        for target in (partial(self._http.serve_forever, poll_interval=0.02), self._ws.serve_forever):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._autofill_stop.set()
        self._http.shutdown()
        self._http.server_close()
        self._ws.shutdown()
        for t in self._threads:
            t.join(5)

    def __enter__(self) -> FakeAlpaca:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- scripting --------------------------------------------------------------------------------
    def fail_next(self, method: str, path: str, status: int, body: dict | None = None, *, times: int = 1) -> None:
        with self.lock:
            self.scripted.extend(_Scripted(method, path, status, body) for _ in range(times))

    def delay_next(self, method: str, path: str, seconds: float) -> None:
        """Process the next matching request normally, then sleep before answering."""
        with self.lock:
            self.scripted.append(_Scripted(method, path, 0, None, delay=seconds))

    def fault(
        self,
        mode: str,
        *,
        method: str = "POST",
        path: str = "/v2/orders",
        times: int | None = 1,
        seconds: float | None = None,
    ) -> None:
        """Inject ``mode`` (see the module docstring) into the next ``times`` matching requests."""
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault {mode!r}; one of {FAULT_MODES}")
        default = {"slow": 7.0, "hang": 15.0}.get(mode, 0.0)
        with self.lock:
            delay = default if seconds is None else seconds
            self.scripted.append(_Scripted(method, path, 0, None, delay=delay, mode=mode, times=times))

    def revoke(self, key_id: str) -> None:
        """Alpaca regenerated the key: the pair stops working and its open websockets are closed."""
        with self.lock:
            self.keys = {pair for pair in self.keys if pair[0] != key_id}
            doomed = [c for c in self.subscribers if self._conn_keys.get(id(c)) == key_id]
        for conn in doomed:
            conn.close()

    def faults_clear(self) -> None:
        with self.lock:
            self.scripted.clear()
            self._cycle = None

    def fault_cycle(self, modes: tuple[str, ...], *, every: int = 3, retries: int = 2) -> None:
        for mode in modes:
            if mode not in (*FAULT_MODES, "429_twice", "429_always"):
                raise ValueError(f"unknown fault {mode!r}")
        with self.lock:
            self._cycle, self._cycle_count = (tuple(modes), every, retries), 0

    def _cycle_next(self, method: str, path: str, cid: str | None) -> None:
        """Count a submission; on every n-th, script the next fault of the cycle for it."""
        if self._cycle is None or method != "POST" or path != "/v2/orders":
            return
        modes, every, retries = self._cycle
        self._cycle_count += 1
        if self._cycle_count % every:
            return
        mode = modes[(self._cycle_count // every - 1) % len(modes)]
        self.faults_applied.append((mode, cid))
        if mode in ("429_twice", "429_always"):
            times = 2 if mode == "429_twice" else retries + 1
            self.scripted.insert(0, _Scripted(method, path, 0, None, mode="429", times=times))
        else:
            delay = {"slow": 7.0, "hang": 15.0}.get(mode, 0.0)
            self.scripted.insert(0, _Scripted(method, path, 0, None, delay=delay, mode=mode, times=1))

    def autofill(self, *, after: float = 0.5) -> None:
        def run() -> None:
            while not self._autofill_stop.wait(after):
                with self.lock:
                    due = [o for o in self.orders.values() if o.status in OPEN and o.type == "market"]
                for o in due:
                    qty = o.qty - o.filled_qty
                    if o.filled_qty == 0 and qty > 1:
                        qty = (qty / 2).to_integral_value()
                    price = self.quotes.get(o.symbol, (Decimal("100"), Decimal("100")))[1]
                    self.fill(o.client_order_id, qty, price)

        t = threading.Thread(target=run, name="fake-alpaca-autofill", daemon=True)
        t.start()
        self._threads.append(t)

    def _take_script(self, method: str, path: str) -> _Scripted | None:
        with self.lock:
            for i, s in enumerate(self.scripted):
                if s.method == method and (path == s.path if s.mode else path.startswith(s.path)):
                    if s.times is None:
                        return s
                    s.times -= 1
                    if s.times <= 0:
                        self.scripted.pop(i)
                    return s
        return None

    def calls(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p == path)

    # --- exchange actions -------------------------------------------------------------------------
    def fill(self, client_order_id: str, qty: Decimal | str, price: Decimal | str) -> dict:
        qty, price = Decimal(str(qty)), Decimal(str(price))
        with self.lock:
            o = self.by_client_id[client_order_id]
            o.filled_qty += qty
            o.filled_notional += qty * price
            o.status = "filled" if o.filled_qty >= o.qty else "partially_filled"
            o.updated_at = _now()
            if o.status == "filled":
                o.filled_at = o.updated_at
            signed = qty if o.side == "buy" else -qty
            old_qty, old_avg = self.positions.get(o.symbol, (Decimal(0), Decimal(0)))
            new_qty = old_qty + signed
            avg = price if old_qty == 0 or (old_qty > 0) != (new_qty > 0) else (
                (abs(old_qty) * old_avg + qty * price) / abs(new_qty) if (signed > 0) == (old_qty > 0) else old_avg)
            self.positions[o.symbol] = (new_qty, avg)
            self.cash -= signed * price
            self.buying_power = self.cash
            event = "fill" if o.status == "filled" else "partial_fill"
            message = self._update(o, event, execution_id=str(uuid.uuid4()), qty=qty, price=price)
        self.broadcast(message)
        return message

    def _update(self, o: FakeOrder, event: str, **extra) -> dict:
        data = {"event": event, "timestamp": _now(), "order": o.as_json()}
        if extra.get("execution_id"):
            position_qty = self.positions.get(o.symbol, (Decimal(0),))[0]
            data.update(execution_id=extra["execution_id"], qty=_s(extra["qty"]), price=_s(extra["price"]),
                        position_qty=_s(position_qty))
        return {"stream": "trade_updates", "data": data}

    def broadcast(self, message: dict) -> None:
        text = json.dumps(message)
        for conn in list(self.subscribers):
            try:
                conn.send(text)
            except Exception:
                self.subscribers.remove(conn)

    # --- websocket --------------------------------------------------------------------------------
    def _ws_handler(self, conn) -> None:
        auth = json.loads(conn.recv())
        pair = (auth.get("data", {}).get("key_id"), auth.get("data", {}).get("secret_key"))
        ok = auth.get("action") == "authenticate" and pair in self.keys
        with self.lock:
            self.stream_auths.append((pair[0], ok))
            self._conn_keys[id(conn)] = pair[0]
        conn.send(json.dumps({"stream": "authorization",
                              "data": {"action": "authenticate", "status": "authorized" if ok else "unauthorized"}}))
        if not ok:
            return
        listen = json.loads(conn.recv())
        streams = listen.get("data", {}).get("streams", [])
        conn.send(json.dumps({"stream": "listening", "data": {"streams": streams}}))
        if "trade_updates" in streams:
            self.subscribers.append(conn)
            self.subscribed.set()
        for _ in conn:  # keep the connection open until the client leaves
            pass
        if conn in self.subscribers:
            self.subscribers.remove(conn)

    # --- REST -------------------------------------------------------------------------------------
    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                return

            def _reply(self, status: int, body=None) -> None:
                payload = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _drop(self, entry: LoggedRequest) -> None:
                entry.outcome = "dropped"
                self.close_connection = True  # no answer: the client sees the connection end

            def _handle(self, method: str) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                query = parse_qs(url.query)
                fake.requests.append((method, url.path, body))
                cid = (body or {}).get("client_order_id") or (query.get("client_order_id") or [None])[0]
                key_id = self.headers.get("APCA-API-KEY-ID")
                entry = LoggedRequest(time.monotonic(), method, url.path, query, cid, key_id)
                with fake.lock:
                    fake.request_log.append(entry)
                pair = (self.headers.get("APCA-API-KEY-ID"), self.headers.get("APCA-API-SECRET-KEY"))
                if pair not in fake.keys:
                    entry.outcome = "401"
                    return self._reply(401, {"code": 40110000, "message": "request is not authorized"})
                with fake.lock:
                    fake._cycle_next(method, url.path, cid)
                script = fake._take_script(method, url.path)
                mode = script.mode if script is not None else ""
                if mode == "429":
                    entry.outcome = "429"
                    return self._reply(429, {"code": 42910000, "message": "rate limit exceeded"})
                if script is not None and not mode and not script.delay:
                    entry.outcome = str(script.status)
                    return self._reply(script.status, script.body or {"code": script.status, "message": "scripted"})
                if mode == "500_before":
                    entry.outcome = "500"
                    return self._reply(500, {"code": 50010000, "message": "internal server error"})
                if mode in ("slow", "hang"):
                    time.sleep(script.delay)
                    if mode == "hang":
                        return self._drop(entry)
                status, payload = fake.route(method, url.path, query, body)
                if mode == "500_after":
                    entry.outcome = "500"
                    return self._reply(500, {"code": 50010000, "message": "internal server error"})
                if mode == "drop_after":
                    return self._drop(entry)
                if script is not None and script.delay and not mode:
                    time.sleep(script.delay)
                entry.outcome = str(status)
                try:
                    self._reply(status, payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_DELETE(self):
                self._handle("DELETE")

        return Handler

    def route(self, method: str, path: str, query: dict, body: dict | None) -> tuple[int, object]:
        with self.lock:
            if path == "/v2/orders" and method == "POST":
                return self._submit(body or {})
            if path == "/v2/orders" and method == "GET":
                status = (query.get("status") or ["open"])[0]
                rows = [o for o in self.orders.values() if status == "all" or (o.status in OPEN) == (status == "open")]
                return 200, [o.as_json() for o in rows]
            if path == "/v2/orders" and method == "DELETE":
                result = []
                for o in list(self.orders.values()):
                    if o.status in OPEN:
                        self._cancel(o)
                        result.append({"id": o.id, "status": 200})
                return 207, result
            if path == "/v2/orders:by_client_order_id" and method == "GET":
                o = self.by_client_id.get((query.get("client_order_id") or [""])[0])
                return (200, o.as_json()) if o else (404, {"code": 40410000, "message": "order not found"})
            if path.startswith("/v2/orders/"):
                o = self.orders.get(path.rsplit("/", 1)[1])
                if o is None:
                    return 404, {"code": 40410000, "message": "order not found"}
                if method == "GET":
                    return 200, o.as_json()
                if method == "DELETE":
                    if o.status not in OPEN:
                        return 422, {"code": 42210000, "message": f"order is not cancelable (status {o.status})"}
                    self._cancel(o)
                    return 204, None
            if path == "/v2/account":
                return 200, self._account()
            if path == "/v2/positions":
                return 200, [self._position(s, q, a) for s, (q, a) in sorted(self.positions.items()) if q != 0]
            if path == "/v2/clock":
                now = _now()
                return 200, {"timestamp": now, "is_open": True, "next_open": now, "next_close": now}
            if path == "/v2/stocks/quotes/latest":
                symbols = (query.get("symbols") or [""])[0].split(",")
                quotes = {
                    s: {"t": _now(), "bp": float(bid), "bs": 1, "ap": float(ask), "as": 1, "bx": "V", "ax": "V",
                        "c": ["R"], "z": "C"}
                    for s in symbols
                    if (pair := self.quotes.get(s)) and (bid := pair[0]) and (ask := pair[1])
                }
                return 200, {"quotes": quotes}
        return 404, {"code": 40410000, "message": f"no route {method} {path}"}

    def _submit(self, body: dict) -> tuple[int, object]:
        cid = body.get("client_order_id") or str(uuid.uuid4())
        if cid in self.by_client_id:
            return 422, {"code": 40010001, "message": "client_order_id must be unique"}
        qty = Decimal(str(body["qty"]))
        limit = Decimal(str(body["limit_price"])) if body.get("limit_price") is not None else None
        if limit is not None:
            places = -limit.normalize().as_tuple().exponent
            if (limit >= 1 and places > 2) or (limit < 1 and places > 4):
                return 422, {"code": 42210000, "message": f"invalid limit_price {body['limit_price']}. "
                                                          "sub-penny increment does not fulfill minimum pricing criteria"}
        price = limit or (self.quotes.get(body["symbol"], (None, Decimal("100")))[1])
        if body["side"] == "buy" and qty * price > self.buying_power:
            return 403, {"code": 40310000, "message": "insufficient buying power"}
        o = FakeOrder(
            id=str(uuid.uuid4()), client_order_id=cid, symbol=body["symbol"], side=body["side"], qty=qty,
            type=body.get("type", "market"), time_in_force=body.get("time_in_force", "day"), limit_price=limit,
            extended_hours=bool(body.get("extended_hours")),
        )
        self.orders[o.id] = o
        self.by_client_id[cid] = o
        message = self._update(o, "new")
        threading.Thread(target=self.broadcast, args=(message,), daemon=True).start()
        return 200, o.as_json()

    def _cancel(self, o: FakeOrder) -> None:
        o.status, o.canceled_at, o.updated_at = "canceled", _now(), _now()
        message = self._update(o, "canceled")
        threading.Thread(target=self.broadcast, args=(message,), daemon=True).start()

    def _account(self) -> dict:
        long_value = sum((q * a for q, a in self.positions.values() if q > 0), Decimal(0))
        short_value = sum((q * a for q, a in self.positions.values() if q < 0), Decimal(0))
        account = {
            "id": "00000000-0000-0000-0000-000000000001", "account_number": "PA0FAKE", "status": "ACTIVE",
            "currency": "USD", "cash": _s(self.cash), "buying_power": _s(self.buying_power),
            "equity": _s(self.cash + long_value + short_value), "portfolio_value": _s(self.cash + long_value + short_value),
            "long_market_value": _s(long_value), "short_market_value": _s(short_value), "multiplier": "1",
            "shorting_enabled": False, "trading_blocked": False, "account_blocked": False,
            "created_at": "2024-01-02T00:00:00Z",
        }
        if self.pattern_day_trader is not None:  # Alpaca removed these fields in 2026; absent by default
            account["pattern_day_trader"] = self.pattern_day_trader
            account["daytrade_count"] = 0
        return account

    def _position(self, symbol: str, qty: Decimal, avg: Decimal) -> dict:
        return {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)), "symbol": symbol, "exchange": "NASDAQ",
            "asset_class": "us_equity", "avg_entry_price": _s(avg), "qty": _s(qty),
            "side": "long" if qty > 0 else "short", "market_value": _s(qty * avg), "cost_basis": _s(qty * avg),
            "qty_available": _s(qty),
        }


def adapter_for(fake: FakeAlpaca, *, retry_attempts: int = 2, timeout: float = 2.0, retry_wait_seconds: float = 0):
    """The platform's Alpaca adapter pointed at ``fake`` (trading, stream and data URLs), as a worker
    builds it, with the test's keys; ``retry_attempts`` as ALPACA_RETRY_ATTEMPTS (no wait between
    unless ``retry_wait_seconds``)."""
    from orders.brokers.alpaca import AlpacaBroker  # the adapter loads alpaca-py: only for tests that use it

    return AlpacaBroker(
        api_key=KEY,
        secret_key=SECRET,
        paper=True,
        url_override=fake.base_url,
        stream_url_override=fake.stream_url,
        data_url_override=fake.base_url,
        timeout=timeout,
        retry_attempts=retry_attempts,
        retry_wait_seconds=retry_wait_seconds,
    )


def resting_buy(client_order_id: str, *, symbol: str = "AAPL"):
    """A one-share buy limit at 97 through the gateway: with the fake's quote at 100 it stays open at
    the broker (what polling, reconciliation and the request budget have to look after)."""
    # the gateway is only imported by the tests that place orders (this module also serves processes)
    from orders.gateway import order_place

    return order_place(symbol=symbol, side="buy", qty="1", order_type="limit", limit_price="97", source="api",
                       client_order_id=client_order_id).order
