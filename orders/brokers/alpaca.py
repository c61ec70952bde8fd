"""Alpaca adapter on alpaca-py (``BROKER=alpaca``; paper or live by ``ALPACA_PAPER``).

- Keys come from the secrets layer (``ALPACA_API_KEY``, ``ALPACA_SECRET_KEY``), never settings.
- Keys are read again through the secrets layer (cached for ``SECRETS_CACHE_TTL``) before every
  call: when the store returns a different pair (a rotation), the REST clients are rebuilt with it
  before the call goes out, and :meth:`AlpacaBroker.credentials_id` changes so the trade stream
  reconnects with the new pair (``orders.stream``). No restart is needed.
- Explicit HTTP timeouts: alpaca-py sets none, so every request of its ``requests.Session`` gets
  ``ALPACA_TIMEOUT_SECONDS``. alpaca-py silently retries 429 and 504 (also for POST): safe here only
  because every order carries our ``client_order_id``; the retry count is ours
  (``ALPACA_RETRY_ATTEMPTS``).
- Every HTTP request (retries included) takes one request from the deployment's shared broker
  budget first (``trading_site.lib.broker_budget``): a request the budget refuses is not sent and
  raises :class:`RequestBudgetExhausted`; every 429 is reported to the budget (back-off, breaker).
- Errors → domain errors: 422 code 40010001 duplicate ``client_order_id``; 403 insufficient buying
  power; 429 rate limit; 422 with a sub-penny message (code 42210000) → :class:`SubPennyPrice`;
  404 → not found; 5xx, timeouts and connection errors → :class:`BrokerUnavailable` (outcome unknown).
- Account fields Alpaca removed in 2026 (``pattern_day_trader``, ``daytrade_count``) are optional.
- Prices and quantities are parsed from the wire as strings into Decimals (the stream is consumed
  raw, because alpaca-py's ``TradeUpdate`` model turns price and qty into floats).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import requests
from django.conf import settings

from orders.brokers.base import (
    BrokerAccount,
    BrokerError,
    BrokerOrder,
    BrokerOrderNotFound,
    BrokerPosition,
    BrokerRejected,
    BrokerUnavailable,
    DuplicateClientOrderId,
    InsufficientBuyingPower,
    Quote,
    RateLimited,
    RequestBudgetExhausted,
    SubmitRequest,
    SubPennyPrice,
    TradeUpdate,
)
from orders.conf import conf
from trading_site.lib import broker_budget, clock
from trading_site.secret_store import secret_manager

logger = logging.getLogger(__name__)

DUPLICATE_CLIENT_ORDER_ID = 40010001
INSUFFICIENT_BUYING_POWER = 40310000
UNPROCESSABLE = 42210000

_STATUS = {
    "new": "accepted",
    "accepted": "accepted",
    "pending_new": "submitted",
    "accepted_for_bidding": "accepted",
    "held": "accepted",
    "calculated": "accepted",
    "pending_cancel": "accepted",
    "pending_replace": "accepted",
    "pending_review": "accepted",
    "replaced": "canceled",
    "stopped": "accepted",
    "partially_filled": "partially_filled",
    "filled": "filled",
    "done_for_day": "expired",
    "canceled": "canceled",
    "expired": "expired",
    "rejected": "rejected",
    "suspended": "rejected",
}


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def _dt(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _enum(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


def order_from_alpaca(o: Any) -> BrokerOrder:
    """An alpaca-py ``Order`` model or the raw order dict of a trade update → :class:`BrokerOrder`."""
    get = o.get if isinstance(o, dict) else (lambda k, d=None: getattr(o, k, d))
    status = _enum(get("status"))
    return BrokerOrder(
        broker_order_id=str(get("id")),
        client_order_id=str(get("client_order_id")),
        symbol=str(get("symbol") or ""),
        side=_enum(get("side")),
        qty=_dec(get("qty")) or Decimal(0),
        status=_STATUS.get(status, "accepted"),
        filled_qty=_dec(get("filled_qty")) or Decimal(0),
        filled_avg_price=_dec(get("filled_avg_price")),
        submitted_at=_dt(get("submitted_at")),
    )


def trade_update_from_alpaca(data: dict) -> TradeUpdate:
    """The ``data`` of a raw ``trade_updates`` message → :class:`TradeUpdate`."""
    return TradeUpdate(
        event=_enum(data.get("event")),
        order=order_from_alpaca(data["order"]),
        timestamp=_dt(data.get("timestamp")) or clock.now(),
        execution_id=str(data["execution_id"]) if data.get("execution_id") else None,
        qty=_dec(data.get("qty")),
        price=_dec(data.get("price")),
        origin="stream",
    )


def map_error(exc: Exception) -> BrokerError:
    from alpaca.common.exceptions import APIError

    if isinstance(exc, BrokerError):
        return exc
    if isinstance(exc, broker_budget.BudgetExhausted):
        return RequestBudgetExhausted(exc.detail)
    if isinstance(exc, requests.Timeout | requests.ConnectionError):
        return BrokerUnavailable(f"Alpaca did not answer: {type(exc).__name__}")
    if not isinstance(exc, APIError):
        return BrokerUnavailable(f"Alpaca call failed: {type(exc).__name__}: {exc}")
    status = exc.status_code or 0
    try:
        body = json.loads(str(exc))
    except ValueError:
        body = {}
    code = body.get("code") if isinstance(body, dict) else None
    message = str(body.get("message", exc)) if isinstance(body, dict) else str(exc)
    if code == DUPLICATE_CLIENT_ORDER_ID:
        return DuplicateClientOrderId(message)
    if status == 403 and (code == INSUFFICIENT_BUYING_POWER or "buying power" in message.lower()):
        return InsufficientBuyingPower(message)
    if status == 429:
        return RateLimited(message or "Alpaca rate limit")
    if status == 422 and "sub-penny" in message.lower():
        return SubPennyPrice(message)
    if status == 404:
        return BrokerOrderNotFound(message)
    if status >= 500:
        return BrokerUnavailable(f"Alpaca {status}: {message}")
    return BrokerRejected(message, code=f"ALPACA_{code or status}")


class AlpacaBroker:
    name = "alpaca"
    synchronous_updates = False

    def __init__(
        self,
        *,
        api_key: str,
        secret_key: str,
        paper: bool,
        url_override: str = "",
        stream_url_override: str = "",
        data_url_override: str = "",
        timeout: float = 10.0,
        retry_attempts: int = 2,
        retry_wait_seconds: int = 1,
        credentials: Callable[[bool], tuple[str, str]] | None = None,
    ) -> None:
        self.paper = paper
        self.stream_url_override = stream_url_override
        self._urls = (url_override, data_url_override)
        self._http = (timeout, retry_attempts, retry_wait_seconds)
        self._credentials = credentials
        self._keys_lock = threading.Lock()
        self._clients_build((api_key, secret_key))

    def _clients_build(self, keys: tuple[str, str]) -> None:
        from alpaca.data.historical import StockHistoricalDataClient
        from alpaca.trading.client import TradingClient

        url_override, data_url_override = self._urls
        timeout, retry_attempts, retry_wait_seconds = self._http
        client = TradingClient(keys[0], keys[1], paper=self.paper, url_override=url_override or None)
        data = StockHistoricalDataClient(keys[0], keys[1], url_override=data_url_override or None)
        for rest in (client, data):
            rest._retry = retry_attempts  # alpaca-py ignores 0 in its constructor; set it directly
            rest._retry_wait = retry_wait_seconds
            broker_budget.session_install(rest._session, timeout=timeout)
        # A call reads ``self.client`` once, so one running in another thread uses one pair or the other.
        self.client, self.data, self._keys = client, data, keys

    def credentials_refresh(self) -> bool:
        """Rebuild the REST clients if the secrets layer now returns another key pair. True if rebuilt.

        The check reads the cached values (cheap, every call); on a change both halves are read again
        past the cache, so the two cache entries expiring a moment apart never produce a mixed pair.
        """
        if self._credentials is None or self._credentials(False) == self._keys:
            return False
        with self._keys_lock:
            keys = self._credentials(True)
            if keys == self._keys:
                return False
            self._clients_build(keys)
        logger.warning("alpaca: the key pair in the secret store changed; REST clients rebuilt with it")
        return True

    def credentials_id(self) -> str:
        """A fingerprint of the key pair in use (after a refresh); never the keys themselves."""
        self.credentials_refresh()
        return hashlib.sha256("\0".join(self._keys).encode()).hexdigest()[:12]

    @classmethod
    def from_settings(cls) -> AlpacaBroker:
        def credentials(fresh: bool) -> tuple[str, str]:
            manager = secret_manager()
            return (manager.get_secret("ALPACA_API_KEY", fresh=fresh),
                    manager.get_secret("ALPACA_SECRET_KEY", fresh=fresh))

        api_key, secret_key = credentials(False)
        return cls(
            api_key=api_key,
            secret_key=secret_key,
            credentials=credentials,
            paper=settings.ALPACA_PAPER,
            url_override=conf.alpaca_url_override,
            stream_url_override=conf.alpaca_stream_url_override,
            data_url_override=conf.alpaca_data_url_override,
            timeout=conf.alpaca_timeout_seconds,
            retry_attempts=conf.alpaca_retry_attempts,
            retry_wait_seconds=conf.alpaca_retry_wait_seconds,
        )

    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            self.credentials_refresh()
            return fn()
        except Exception as exc:
            raise map_error(exc) from exc

    # --- orders -----------------------------------------------------------------------------------
    def submit_order(self, request: SubmitRequest) -> BrokerOrder:
        from alpaca.trading.enums import OrderSide, TimeInForce
        from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

        common = {
            "symbol": request.symbol,
            "qty": float(request.qty),
            "side": OrderSide(request.side),
            "time_in_force": TimeInForce(request.time_in_force),
            "client_order_id": request.client_order_id,
            "extended_hours": request.extended_hours or None,
        }
        if request.order_type == "limit":
            order_request = LimitOrderRequest(limit_price=float(request.limit_price), **common)
        else:
            order_request = MarketOrderRequest(**common)
        # The gateway's pre-trade rate check counted this submission in the shared budget already.
        with broker_budget.prepaid():
            return order_from_alpaca(self._call(lambda: self.client.submit_order(order_request)))

    def cancel_order(self, *, broker_order_id: str | None, client_order_id: str) -> None:
        if not broker_order_id:
            found = self.get_order_by_client_id(client_order_id)
            if found is None:
                raise BrokerOrderNotFound(f"order {client_order_id} not found at Alpaca")
            broker_order_id = found.broker_order_id
        try:
            self._call(lambda: self.client.cancel_order_by_id(broker_order_id))
        except BrokerRejected as exc:  # 422: no longer cancelable (filled or already canceled)
            logger.info("cancel of %s refused by Alpaca: %s", client_order_id, exc.detail)

    def cancel_all_orders(self) -> int:
        return len(self._call(lambda: self.client.cancel_orders()) or [])

    def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        try:
            return order_from_alpaca(self._call(lambda: self.client.get_order_by_client_id(client_order_id)))
        except BrokerOrderNotFound:
            return None

    def list_open_orders(self) -> list[BrokerOrder]:
        from alpaca.trading.enums import QueryOrderStatus
        from alpaca.trading.requests import GetOrdersRequest

        rows = self._call(lambda: self.client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500)))
        return [order_from_alpaca(o) for o in rows]

    # --- account ----------------------------------------------------------------------------------
    def list_positions(self) -> list[BrokerPosition]:
        result = []
        for p in self._call(lambda: self.client.get_all_positions()):
            qty = Decimal(str(p.qty))
            if _enum(p.side) == "short" and qty > 0:
                qty = -qty
            result.append(BrokerPosition(symbol=p.symbol, qty=qty, avg_entry_price=Decimal(str(p.avg_entry_price))))
        return result

    def get_account(self) -> BrokerAccount:
        a = self._call(lambda: self.client.get_account())
        return BrokerAccount(
            cash=_dec(a.cash) or Decimal(0),
            equity=_dec(a.equity) or Decimal(0),
            buying_power=_dec(a.buying_power) or Decimal(0),
            long_market_value=_dec(a.long_market_value) or Decimal(0),
            short_market_value=_dec(a.short_market_value) or Decimal(0),
            pattern_day_trader=getattr(a, "pattern_day_trader", None),
            daytrade_count=getattr(a, "daytrade_count", None),
        )

    def latest_quote(self, symbol: str) -> Quote | None:
        from alpaca.data.requests import StockLatestQuoteRequest

        quotes = self._call(lambda: self.data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=symbol)))
        q = quotes.get(symbol.upper()) if quotes else None
        if q is None:
            return None
        bid, ask = _dec(q.bid_price) or None, _dec(q.ask_price) or None
        last = (bid + ask) / 2 if bid and ask else (bid or ask)
        return Quote(symbol=symbol.upper(), bid=bid, ask=ask, last=last.quantize(Decimal("0.0001")) if last else None,
                     time=q.timestamp)

    # --- trade updates ----------------------------------------------------------------------------
    def pending_updates(self, *, client_order_id: str | None = None) -> list[TradeUpdate]:
        return []  # Alpaca pushes updates on its websocket (see orders.stream)

    def mark_delivered(self, updates: list[TradeUpdate]) -> None:
        return None

    def trading_stream(self):
        from alpaca.trading.stream import TradingStream

        return TradingStream(
            self._keys[0], self._keys[1], paper=self.paper, raw_data=True, url_override=self.stream_url_override or None
        )

    def health(self) -> dict:
        try:
            market = self._call(lambda: self.client.get_clock())
        except BrokerError as exc:
            return {"ok": False, "name": self.name, "error": exc.code}
        return {"ok": True, "name": self.name, "paper": self.paper, "market_open": bool(market.is_open)}
