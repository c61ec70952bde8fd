"""Trade updates in one dedicated process (``manage.py run_trade_stream``).

Alpaca: :class:`TradeStreamRunner`. The simulated exchange (``SIM_FILL_DELIVERY=stream``):
:class:`OutboxStreamRunner` reads its outbox the same way, so a submit returns at acceptance and the
fills reach the ledger through the same ``trade_updates_apply`` moments later.


Alpaca allows one ``trade_updates`` websocket per account, so exactly one process runs this. The
websocket runs in a background thread (alpaca-py's ``TradingStream`` with its own asyncio loop)
and only *queues* raw messages; the main thread applies them with the ordinary synchronous
:func:`orders.fills.trade_update_apply` — the same path as the simulated exchange. Polling
fallback: every ``TRADE_STREAM_POLL_SECONDS`` without stream traffic (disconnected, or simply
quiet), open orders are resolved over REST, which books any missed fills by the broker's
cumulative quantities. Those lookups are reads in the deployment's shared broker-request budget
(``trading_site.lib.broker_budget``): when the budget refuses one (reads used up, or paused after
a 429) the pass stops there, the next pass starts with the order after the last one looked up (so
no order starves), and the wait before it doubles up to ``POLL_BACKOFF_MOST`` seconds; a complete
pass restores the normal interval. The process writes a ``trade_stream`` heartbeat.

Key rotation: every loop compares the adapter's :meth:`credentials_id` (the secrets layer's current
pair, cached for ``SECRETS_CACHE_TTL``) with the pair the websocket was opened with; on a change the
websocket is closed and opened again with the new pair (no process restart).
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from django.db import close_old_connections, connections

from orders.brokers.alpaca import trade_update_from_alpaca
from orders.brokers.base import RateLimited
from orders.fills import trade_update_apply, updates_pump
from orders.gateway import order_resolve
from orders.models import OPEN_STATUSES, Order
from trading_site.health import heartbeat_record

logger = logging.getLogger(__name__)


POLL_BACKOFF_MOST = 60.0


class TradeStreamRunner:
    def __init__(self, broker, *, poll_seconds: float = 5.0) -> None:
        self.broker = broker
        self.poll_seconds = poll_seconds
        self.poll_wait = poll_seconds  # grows while the request budget refuses polls
        self.messages: queue.Queue[dict] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stream_build()
        self._last_message = time.monotonic()
        self._last_poll = time.monotonic()
        self._poll_after_pk = 0
        self.applied = 0
        self.reconnects = 0

    def _stream_build(self) -> None:
        self.stream_credentials = self.broker.credentials_id()
        self.stream = self.broker.trading_stream()
        self.stream.subscribe_trade_updates(self._on_message)

    def credentials_follow(self) -> bool:
        """Reconnect the websocket if the secret store now holds another key pair. True if it did."""
        if self.broker.credentials_id() == self.stream_credentials:
            return False
        logger.warning("alpaca trade stream: the key pair changed; reconnecting with the new pair")
        self.stop()
        self._stream_build()
        self.start()
        self.reconnects += 1
        return True

    async def _on_message(self, message: dict) -> None:
        self.messages.put(message)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.stream.run, name="alpaca-trade-stream", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        try:
            self.stream.stop()
        except Exception:  # the loop may not have started yet
            logger.debug("trade stream stop before start", exc_info=True)
        if self._thread is not None:
            self._thread.join(10)

    def process(self, *, timeout: float = 1.0) -> int:
        """Apply queued trade updates (waits up to ``timeout`` for the first). Returns how many."""
        count = 0
        try:
            message = self.messages.get(timeout=timeout)
        except queue.Empty:
            return 0
        while True:
            data = message.get("data") if isinstance(message, dict) else None
            if isinstance(data, dict) and "order" in data:
                try:
                    trade_update_apply(update=trade_update_from_alpaca(data))
                    count += 1
                except Exception:
                    # Never lose the stream over one bad message: reconciliation repairs from REST.
                    logger.exception("trade update failed: %s", data.get("event"))
            self._last_message = time.monotonic()
            try:
                message = self.messages.get_nowait()
            except queue.Empty:
                break
        self.applied += count
        return count

    def poll(self) -> int:
        """Polling fallback: resolve open orders against the broker's REST API, within the budget.

        Starts after the order the last (possibly cut-short) pass ended on. Returns how many were
        looked up.
        """
        self._last_poll = time.monotonic()
        open_pks = list(Order.objects.filter(status__in=OPEN_STATUSES).order_by("pk").values_list("pk", flat=True))
        after = self._poll_after_pk
        turn = [pk for pk in open_pks if pk > after] + [pk for pk in open_pks if pk <= after]
        resolved = 0
        for pk in turn:
            try:
                order_resolve(order_id=pk)
            except RateLimited as exc:  # our budget refused the read, or the broker answered 429
                wait = self.poll_wait = min(self.poll_wait * 2, max(POLL_BACKOFF_MOST, self.poll_seconds))
                logger.info("poll: stopped after %d of %d (%s); next in %.0f s", resolved, len(turn), exc.code, wait)
                return resolved
            except Exception:
                logger.exception("poll: could not resolve order %s", pk)
            self._poll_after_pk = pk
            resolved += 1
        self.poll_wait = self.poll_seconds
        self._poll_after_pk = 0
        return resolved

    def run_forever(self, stop: threading.Event) -> None:
        outage = OutageBackoff("alpaca trade stream")
        self.start()
        try:
            while not stop.is_set():
                try:
                    close_old_connections()
                    if self._thread is not None and not self._thread.is_alive():
                        # The websocket's own loop reconnects; this is for its thread having died.
                        logger.warning("alpaca trade stream: websocket thread ended; starting it again")
                        self.start()
                    self.credentials_follow()
                    self.process(timeout=1.0)
                    now = time.monotonic()
                    if now - max(self._last_message, self._last_poll) >= self.poll_wait:
                        self.poll()
                    heartbeat_record(name="trade_stream", detail={"applied": self.applied})
                except Exception as exc:  # database, cache or broker API away: back off, never exit
                    stop.wait(outage.failed(exc))
                    continue
                outage.succeeded()
        finally:
            self.stop()


class OutboxStreamRunner:
    """The simulated exchange's trade updates, delivered by one process as Alpaca's stream would be.

    Drains the outbox in batches (one transaction per order, in outbox order) and, when a pass
    delivered nothing, waits ``poll_seconds`` before looking again — or, while the only pending
    updates are held back (their booking keeps failing), waits twice as long each time up to
    ``heartbeat_seconds``, so a lasting failure is retried and logged every few seconds, not ten
    times a second. Writes the ``trade_stream`` heartbeat and recycles its database connection
    every ``heartbeat_seconds``. The beat's sim tick delivers too (a fallback while this process is
    down); both are safe together — updates are idempotent by execution id and applied under the
    order's row lock.
    """

    def __init__(self, broker, *, poll_seconds: float = 0.1, heartbeat_seconds: float = 5.0) -> None:
        self.broker = broker
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.applied = 0
        self.held_back: list[str] = []
        self._backoff = poll_seconds
        self._last_heartbeat = float("-inf")

    def process(self) -> int:
        """One pass over the outbox; returns how many updates were delivered."""
        self.held_back = []
        count = updates_pump(broker=self.broker, held_back=self.held_back)
        self.applied += count
        return count

    def wait_seconds(self, delivered: int) -> float:
        """How long to pause after a pass that delivered ``delivered`` updates."""
        if delivered:
            self._backoff = self.poll_seconds
            return 0.0
        if not self.held_back:
            self._backoff = self.poll_seconds
            return self.poll_seconds
        wait, self._backoff = self._backoff, min(self._backoff * 2, self.heartbeat_seconds)
        return wait

    def run_forever(self, stop: threading.Event) -> None:
        outage = OutageBackoff("simulated trade stream", first=self.poll_seconds, most=self.heartbeat_seconds)
        while not stop.is_set():
            now = time.monotonic()
            beat_due = now - self._last_heartbeat >= self.heartbeat_seconds
            try:
                if beat_due:
                    close_old_connections()  # every few seconds, not on every 0.1 s pass
                delivered = self.process()
                if beat_due:
                    heartbeat_record(name="trade_stream", detail={"applied": self.applied, "broker": self.broker.name})
                    self._last_heartbeat = now
            except Exception as exc:  # the database went away: no heartbeat (/healthz says so), back off, retry
                stop.wait(outage.failed(exc))
                continue
            outage.succeeded()
            wait = self.wait_seconds(delivered)
            if wait:
                stop.wait(wait)


class OutageBackoff:
    """A loop's failures in a row: how long to wait before the next try, and one log line per outage.

    The first failure is logged with its traceback, the ones after it are not (an outage of a
    minute is not 600 tracebacks); the recovery is logged with how long it lasted. The connection
    is dropped after each failure so the next try opens a fresh one.
    """

    def __init__(self, name: str, *, first: float = 0.5, most: float = 5.0) -> None:
        self.name = name
        self.first = first
        self.most = most
        self._wait = first
        self.failures = 0
        self._since = 0.0

    def failed(self, exc: BaseException) -> float:
        if self.failures == 0:
            self._since = time.monotonic()
            logger.error("%s: %s; retrying with back-off until it works", self.name, type(exc).__name__,
                         exc_info=exc)
        self.failures += 1
        try:
            connections.close_all()
        except Exception:  # a connection that cannot even close is dropped with the next try
            logger.debug("%s: closing connections failed", self.name, exc_info=True)
        wait, self._wait = self._wait, min(self._wait * 2, self.most)
        return wait

    def succeeded(self) -> None:
        if self.failures:
            logger.warning("%s: working again after %d failed tries (%.0f s)", self.name, self.failures,
                           time.monotonic() - self._since)
        self.failures = 0
        self._wait = self.first
