"""Prometheus metrics: the ``/metrics`` endpoint (text exposition format 0.0.4, written by hand) and
the Celery task instrumentation behind its task series.

Two kinds of series:

- **Read from the database at scrape time** (the ledger is the source of truth, so every web process
  answers the same): orders by status and source, pre-trade rejections by code, fills, circuit
  breaker trips and state, the kill switch, equity, heartbeat ages, unacknowledged alerts.
- **Counted by Celery signal handlers** (``task_prerun``/``task_postrun``/``task_failure``, connected
  by :func:`celery_signals_connect` from ``trading_site/celery.py``): task runs by final state,
  duration histogram, failures. Worker processes are many, so the counters live outside them: in
  one Redis hash (``HINCRBY``/``HINCRBYFLOAT`` are atomic, so any number of prefork children and
  machines add safely) when ``REDIS_URL`` is set, otherwise in the Django cache (the embedded mode:
  one machine, read-modify-write, best effort).

Access: with ``METRICS_TOKEN`` set, a request needs ``Authorization: Bearer <token>``; without it,
only clients whose address is in ``METRICS_ALLOWED_NETWORKS`` (default loopback) are answered. The
address is ``REMOTE_ADDR``: a proxy in front must be in the allowed networks itself, so configure the
token when scraping through one.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from orders import selectors as order_selectors
from orders.models import Fill, Order
from risk import selectors as risk_selectors
from risk.models import RiskEvent
from trading_site.lib import clock
from trading_site.models import Alert, Heartbeat

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_NETWORKS = "127.0.0.1/32,::1/128"

# --- configuration ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    token: str
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def metrics_config_from_env(environ: dict[str, str] | None = None) -> MetricsConfig:
    """Read ``METRICS_TOKEN`` and ``METRICS_ALLOWED_NETWORKS``; a malformed network is a start-up error."""
    environ = os.environ if environ is None else environ
    token = environ.get("METRICS_TOKEN", "").strip()
    raw = environ.get("METRICS_ALLOWED_NETWORKS", DEFAULT_NETWORKS)
    networks = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"METRICS_ALLOWED_NETWORKS: {part!r} is not a network (use CIDR, e.g. 10.0.0.0/8)"
            ) from exc
    if token and len(token) < 16:
        raise ImproperlyConfigured("METRICS_TOKEN must be at least 16 characters")
    return MetricsConfig(token=token, networks=tuple(networks))


CONFIG = metrics_config_from_env()


def request_allowed(request: HttpRequest, *, config: MetricsConfig) -> tuple[bool, int]:
    """(allowed, status to answer when not): the bearer token when configured, else the network list."""
    if config.token:
        header = request.headers.get("Authorization", "")
        scheme, _, supplied = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(supplied.strip().encode(), config.token.encode()):
            return True, 200
        return False, 401
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False, 403
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in net for net in config.networks), 403


# --- exposition format -----------------------------------------------------------------------------


def _escape_label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    number = float(value)
    if number == float("inf"):
        return "+Inf"
    if number == float("-inf"):
        return "-Inf"
    return repr(number)


class Exposition:
    """Collects metric families and renders them: HELP and TYPE once per family, then its samples."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: Iterable[tuple[dict, object]],
        *,
        suffix_samples: bool = False,
    ) -> None:
        self._lines.append(f"# HELP {name} {_escape_help(help_text)}")
        self._lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            sample_name = name
            if suffix_samples:  # histogram samples carry their suffix (_bucket, _sum, _count) in "__suffix"
                labels = dict(labels)
                sample_name = name + labels.pop("__suffix")
            self._lines.append(f"{sample_name}{_labels(labels)} {_number(value)}")

    def render(self) -> str:
        return "\n".join(self._lines) + "\n"


def _labels(labels: dict) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape_label(value)}"' for key, value in labels.items()) + "}"


# --- Celery task counters --------------------------------------------------------------------------

REDIS_KEY = "metrics:celery_tasks"
CACHE_KEY = "metrics:celery_tasks"
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_SEP = "|"
_started: dict[str, float] = {}
_started_lock = threading.Lock()
_redis_clients: dict[str, object] = {}


def _redis():
    import redis

    client = _redis_clients.get(settings.REDIS_URL)
    if client is None:  # redis-py's pool reconnects in a forked child (it checks the pid), so one per URL
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        _redis_clients[settings.REDIS_URL] = client
    return client


def _increments_apply(increments: dict[str, float]) -> None:
    if settings.REDIS_URL:
        pipe = _redis().pipeline(transaction=False)
        for field, amount in increments.items():
            if isinstance(amount, int):
                pipe.hincrby(REDIS_KEY, field, amount)
            else:
                pipe.hincrbyfloat(REDIS_KEY, field, amount)
        pipe.execute()
        return
    current = cache.get(CACHE_KEY) or {}
    for field, amount in increments.items():
        current[field] = current.get(field, 0) + amount
    cache.set(CACHE_KEY, current, timeout=None)


def task_counters_read() -> dict[str, float]:
    """Every task counter field → value (``kind|task[|extra]``)."""
    if settings.REDIS_URL:
        raw = _redis().hgetall(REDIS_KEY)
        return {k.decode(): float(v) for k, v in raw.items()}
    return {k: float(v) for k, v in (cache.get(CACHE_KEY) or {}).items()}


def task_counters_clear() -> None:
    if settings.REDIS_URL:
        _redis().delete(REDIS_KEY)
    else:
        cache.delete(CACHE_KEY)


def task_run_record(*, task: str, state: str, duration: float | None) -> None:
    """Count one finished task run (and its duration when known) under ``task`` and final ``state``."""
    increments: dict[str, float] = {_SEP.join(("runs", task, state)): 1}
    if duration is not None:
        duration = max(duration, 0.0)
        increments[_SEP.join(("duration_sum", task))] = float(duration)
        increments[_SEP.join(("duration_count", task))] = 1
        for bound in DURATION_BUCKETS:
            if duration <= bound:
                increments[_SEP.join(("duration_bucket", task, repr(bound)))] = 1
    _increments_apply(increments)


def task_failure_record(*, task: str) -> None:
    _increments_apply({_SEP.join(("failures", task)): 1})


def _on_prerun(sender=None, task_id=None, **kwargs) -> None:
    if task_id:
        with _started_lock:
            _started[task_id] = time.monotonic()


def _on_postrun(sender=None, task_id=None, state=None, **kwargs) -> None:
    with _started_lock:
        started = _started.pop(task_id, None) if task_id else None
    duration = None if started is None else time.monotonic() - started
    try:
        task_run_record(task=getattr(sender, "name", str(sender)), state=state or "UNKNOWN", duration=duration)
    except Exception:  # metrics must never fail a task
        logger.warning("metrics: could not record a task run", exc_info=True)


def _on_failure(sender=None, **kwargs) -> None:
    try:
        task_failure_record(task=getattr(sender, "name", str(sender)))
    except Exception:
        logger.warning("metrics: could not record a task failure", exc_info=True)


def celery_signals_connect() -> None:
    """Connect the task signal handlers (idempotent: fixed dispatch uids)."""
    from celery import signals

    signals.task_prerun.connect(_on_prerun, weak=False, dispatch_uid="trading_metrics_prerun")
    signals.task_postrun.connect(_on_postrun, weak=False, dispatch_uid="trading_metrics_postrun")
    signals.task_failure.connect(_on_failure, weak=False, dispatch_uid="trading_metrics_failure")


def _task_families(out: Exposition) -> None:
    counters = task_counters_read()
    runs, failures, dur_sum, dur_count, buckets = [], [], {}, {}, {}
    for field, value in sorted(counters.items()):
        kind, _, rest = field.partition(_SEP)
        if kind == "runs":
            task, _, state = rest.rpartition(_SEP)
            runs.append(({"task": task, "state": state}, int(value)))
        elif kind == "failures":
            failures.append(({"task": rest}, int(value)))
        elif kind == "duration_sum":
            dur_sum[rest] = value
        elif kind == "duration_count":
            dur_count[rest] = int(value)
        elif kind == "duration_bucket":
            task, _, bound = rest.rpartition(_SEP)
            buckets.setdefault(task, {})[float(bound)] = int(value)
    out.family("trading_celery_task_runs_total", "counter", "Celery task runs by final state.", runs)
    out.family("trading_celery_task_failures_total", "counter", "Celery task runs that raised.", failures)
    samples: list[tuple[dict, object]] = []
    for task in sorted(dur_count):
        task_buckets = buckets.get(task, {})
        for bound in DURATION_BUCKETS:  # each bucket field is already cumulative (incremented for every bound >= d)
            samples.append(({"__suffix": "_bucket", "task": task, "le": _number(bound)}, task_buckets.get(bound, 0)))
        samples.append(({"__suffix": "_bucket", "task": task, "le": "+Inf"}, dur_count[task]))
        samples.append(({"__suffix": "_sum", "task": task}, dur_sum.get(task, 0.0)))
        samples.append(({"__suffix": "_count", "task": task}, dur_count[task]))
    out.family(
        "trading_celery_task_duration_seconds",
        "histogram",
        "Celery task run time (prerun to postrun).",
        samples,
        suffix_samples=True,
    )


# --- database series -------------------------------------------------------------------------------


def _ledger_families(out: Exposition) -> None:
    # One pass over the orders table feeds both order families. Each scrape scans it (~0.4 µs a row
    # on PostgreSQL: ~40 ms at 100,000 orders), which is fine at this platform's volumes.
    by_status: Counter[tuple[str, str]] = Counter()
    rejects: Counter[str] = Counter()
    for status, source, code, n in (
        Order.objects.order_by().values_list("status", "source", "reject_code").annotate(n=Count("id"))
    ):
        by_status[(status, source)] += n
        if code:
            rejects[code] += n
    out.family(
        "trading_orders",
        "gauge",
        "Orders in the ledger by status and source.",
        (({"status": st, "source": src}, n) for (st, src), n in sorted(by_status.items())),
    )
    out.family(
        "trading_pretrade_rejections_total",
        "counter",
        "Orders refused before the broker, by rejection code.",
        (({"code": code}, n) for code, n in sorted(rejects.items())),
    )
    out.family("trading_fills_total", "counter", "Fills recorded in the ledger.", [({}, Fill.objects.count())])
    snap = order_selectors.account_latest()
    if snap is not None:
        out.family(
            "trading_account_equity_dollars", "gauge", "Equity of the latest account snapshot.", [({}, snap.equity)]
        )
        out.family("trading_account_cash_dollars", "gauge", "Cash of the latest account snapshot.", [({}, snap.cash)])
        out.family(
            "trading_account_buying_power_dollars",
            "gauge",
            "Buying power of the latest account snapshot.",
            [({}, snap.buying_power)],
        )
        out.family(
            "trading_account_snapshot_timestamp_seconds",
            "gauge",
            "Unix time of the latest account snapshot.",
            [({}, snap.time.timestamp())],
        )


def _risk_families(out: Exposition) -> None:
    trips = (
        RiskEvent.objects.filter(kind=RiskEvent.Kind.BREAKER_TRIP)
        .order_by()
        .values_list("subject")
        .annotate(n=Count("id"))
    )
    out.family(
        "trading_circuit_breaker_trips_total",
        "counter",
        "Circuit breaker trips, by breaker.",
        (({"breaker": name}, n) for name, n in sorted(trips)),
    )
    out.family(
        "trading_circuit_breaker_open",
        "gauge",
        "1 while the breaker is tripped (risk-increasing orders refused).",
        (({"breaker": b["name"]}, b["state"] == "open") for b in risk_selectors.breakers_status()),
    )
    out.family(
        "trading_kill_switch_engaged",
        "gauge",
        "1 while the kill switch is engaged.",
        [({}, risk_selectors.kill_switch_status()["engaged"])],
    )


def _platform_families(out: Exposition) -> None:
    now = clock.now()
    out.family(
        "trading_heartbeat_age_seconds",
        "gauge",
        "Seconds since the process last showed it was alive.",
        (
            ({"name": hb.name}, round((now - hb.seen_at).total_seconds(), 3))
            for hb in Heartbeat.objects.order_by("name")
        ),
    )
    open_alerts = dict(
        Alert.objects.filter(acknowledged_at__isnull=True).order_by().values_list("severity").annotate(n=Count("id"))
    )
    out.family(
        "trading_alerts_unacknowledged",
        "gauge",
        "Alerts not yet acknowledged, by severity.",
        (({"severity": sev}, open_alerts.get(sev, 0)) for sev in Alert.Severity.values),
    )


def metrics_render() -> str:
    """The whole exposition: ledger, risk, platform and Celery task series."""
    out = Exposition()
    _ledger_families(out)
    _risk_families(out)
    _platform_families(out)
    _task_families(out)
    return out.render()


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    allowed, status = request_allowed(request, config=CONFIG)
    if not allowed:
        response = HttpResponse("metrics: not authorised\n", status=status, content_type="text/plain; charset=utf-8")
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_render(), content_type=CONTENT_TYPE)
