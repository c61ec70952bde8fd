"""One budget of broker REST requests for every process of a deployment (Alpaca: 200 a minute).

Every HTTP request alpaca-py makes — submissions, cancels, order lookups, the trade stream's
fallback polls, reconciliation reads, account, positions, clock, quotes and bars, and alpaca-py's
own retries of any of them — passes :func:`session_install`'s hook on its ``requests.Session``
before it leaves the process:

- the request is classified: ``POST /v2/orders`` is a **submit**, ``DELETE /v2/orders…`` a
  **cancel**, everything else a **read** — except a read made while an order is being placed
  (inside :func:`placing`: the quote its price-band check needs, the lookup after a duplicate id),
  which is an **order_read** and has the submission's priority;
- the registered ``take(kind)`` (the risk app's, over the shared sliding window every process
  counts in: Redis, or a locked file in the embedded run) takes one request from the budget or
  raises :class:`BudgetExhausted`; the request is then not sent at all. Submissions and cancels
  may use the whole budget, reads only what is left above a reserve kept for them, and no read
  goes out while a 429 back-off is in force — so with many open orders being polled a new
  submission still goes out at once;
- a submission the gateway's pre-trade rate check already counted (every order is one request in
  the same window) runs inside :func:`prepaid`; only alpaca-py's retries of it are taken here;
- a 429 answer (reads included) is reported to the registered ``rate_limited(detail, retry_after)``
  listener: the risk app counts it toward the ``broker_errors`` breaker and pauses reads.

This module sits in ``trading_site.lib`` because both the broker adapters (``orders``) and the market
data provider need it while the budget's limit and window belong to a higher layer (``risk``),
which plugs in with :func:`register` from its ``AppConfig.ready()`` — the same registry pattern as
``orders.pretrade``. Without a registration (a bare script) nothing is limited.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator
from urllib.parse import urlparse

logger = logging.getLogger(__name__)

SUBMIT, CANCEL, READ, ORDER_READ = "submit", "cancel", "read", "order_read"


class BudgetExhausted(Exception):
    """No request left in the shared budget for this kind of request (nothing was sent)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


Take = Callable[[str], None]
RateLimitedListener = Callable[[str, float | None], None]

_take: Take | None = None
_rate_limited: RateLimitedListener | None = None
_prepaid: contextvars.ContextVar[bool] = contextvars.ContextVar("broker_request_prepaid", default=False)
_placing: contextvars.ContextVar[bool] = contextvars.ContextVar("broker_request_placing", default=False)


def register(*, take: Take | None, rate_limited: RateLimitedListener | None) -> None:
    """Plug in the budget (one registration per process; a later one replaces it, ``None`` removes it)."""
    global _take, _rate_limited
    _take, _rate_limited = take, rate_limited


def registration() -> tuple[Take | None, RateLimitedListener | None]:
    """The current registration (tests save and restore it around their own)."""
    return _take, _rate_limited


def request_kind(method: str, url: str) -> str:
    path = urlparse(url).path
    if method.upper() == "POST" and path.endswith("/v2/orders"):
        return SUBMIT
    if method.upper() == "DELETE" and "/v2/orders" in path:
        return CANCEL
    return ORDER_READ if _placing.get() else READ


@contextlib.contextmanager
def placing() -> Iterator[None]:
    """Reads inside this block serve an order being placed (the gateway wraps placement in it)."""
    token = _placing.set(True)
    try:
        yield
    finally:
        _placing.reset(token)


@contextlib.contextmanager
def prepaid() -> Iterator[None]:
    """The first submission request inside this block was already counted (the pre-trade check)."""
    token = _prepaid.set(True)
    try:
        yield
    finally:
        _prepaid.reset(token)


def request_take(kind: str) -> None:
    """Take one request of ``kind`` from the budget, or raise :class:`BudgetExhausted`."""
    if kind == SUBMIT and _prepaid.get():
        _prepaid.set(False)  # alpaca-py's retries of this submission are new requests
        return
    if _take is not None:
        _take(kind)


def rate_limited_report(detail: str, retry_after: float | None) -> None:
    if _rate_limited is None:
        return
    try:
        _rate_limited(detail, retry_after)
    except Exception:  # the report must never turn a broker answer into a crash
        logger.exception("could not record a broker 429 (%s)", detail)


def _retry_after(response) -> float | None:
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value else None
    except ValueError:
        return None


def session_install(session, *, timeout: float) -> None:
    """Give every request of ``session`` a timeout and the budget (take before, 429 report after)."""
    original = session.request

    def request(method, url, **kwargs):
        kind = request_kind(method, url)
        request_take(kind)
        kwargs.setdefault("timeout", timeout)
        response = original(method, url, **kwargs)
        if response.status_code == 429:
            rate_limited_report(f"429 on {method} {urlparse(url).path} ({kind})", _retry_after(response))
        return response

    session.request = request
