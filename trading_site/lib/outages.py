"""Which exceptions mean "a backing service is unreachable" (not a bug), and which service it is.

The database (PostgreSQL/SQLite), Redis (cache, rate windows, pub/sub) and the Celery transport
can be down while the web process is up. Requests that need them then answer 503 — JSON in the
API's error shape, a plain page in the console (``trading_site.api.errors`` and
``trading_site.views.server_error``) — instead of an HTML 500, and readers that have a truthful
fallback (the risk state falls back from the cache to the database) use it.
"""

from __future__ import annotations

from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as TransportError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# A cache read or write that failed because the cache server is unreachable (the file cache of the
# embedded run fails with OSError).
CACHE_ERRORS: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError, OSError)

_SERVICES: tuple[tuple[tuple[type[Exception], ...], str], ...] = (
    ((OperationalError, InterfaceError), "database"),
    ((RedisConnectionError, RedisTimeoutError), "Redis"),
    ((TransportError,), "task queue"),
)

RETRY_AFTER_SECONDS = 5


def unavailable_service(exc: BaseException | None) -> str | None:
    """The service whose outage raised ``exc`` (also when it is the cause of a wrapping error), else None."""
    seen = 0
    while exc is not None and seen < 5:
        for types, name in _SERVICES:
            if isinstance(exc, types):
                return name
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def unavailable_detail(service: str) -> str:
    return (f"The {service} is unavailable; the request was not completed. Try again in a few seconds "
            "(an order retried with the same client_order_id is never doubled).")
