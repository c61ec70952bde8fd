"""Health: heartbeats of worker and beat, and the checks behind ``/healthz``.

Each check returns ``{"ok": bool, ...detail}``. Apps may add checks (for example the trading broker)
with :func:`register_check`; the ``broker`` check reads the configured trading broker's health.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Callable

from django.conf import settings
from django.db import connection

from trading_site.lib import clock
from trading_site.models import Heartbeat

CheckFn = Callable[[], dict]
_extra_checks: dict[str, CheckFn] = {}


def register_check(name: str, fn: CheckFn) -> None:
    _extra_checks[name] = fn


def registered_checks() -> list[str]:
    return list(_extra_checks)


def heartbeat_record(*, name: str, detail: dict | None = None) -> None:
    Heartbeat.objects.update_or_create(
        name=name,
        defaults={"seen_at": clock.wall_now(), "detail": detail or {"pid": os.getpid(), "host": socket.gethostname()}},
    )


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "vendor": connection.vendor}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}


def check_celery_broker() -> dict:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem"):
        folder = settings.CELERY_FILESYSTEM_DIR / "queue"
        ok = folder.is_dir() and os.access(folder, os.W_OK)
        return {"ok": ok, "transport": "filesystem"} | ({} if ok else {"error": "queue folder missing"})
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        return {"ok": True, "transport": "redis"}
    except redis.RedisError as exc:
        return {"ok": False, "transport": "redis", "error": type(exc).__name__}


def heartbeat_check(name: str) -> dict:
    try:
        beat = Heartbeat.objects.filter(name=name).first()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    if beat is None:
        return {"ok": False, "error": "never seen"}
    age = (clock.wall_now() - beat.seen_at).total_seconds()
    return {"ok": age <= settings.HEARTBEAT_MAX_AGE, "age_seconds": round(age, 1), "last_seen": beat.seen_at.isoformat()}


def check_platform() -> dict | None:
    """The ``run_platform`` supervisor's view: children running, restarts in the last hour.

    ``None`` where no supervisor reports (docker compose, where each service restarts itself; or a
    ``run_platform`` that has stopped, whose last word is stale).
    """
    try:
        beat = Heartbeat.objects.filter(name="platform").first()
    except Exception:
        return None  # the database check reports this
    if beat is None or (clock.now() - beat.seen_at).total_seconds() > settings.HEARTBEAT_MAX_AGE:
        return None
    children = beat.detail.get("children", {})
    down = sorted(name for name, child in children.items() if not child.get("running"))
    report = {
        "ok": not down,
        "restarts_last_hour": beat.detail.get("restarts_last_hour", 0),
        "children": {name: {"running": c.get("running"), "restarts_last_hour": c.get("restarts_last_hour", 0),
                            "last_exit": c.get("last_exit", "")} for name, c in children.items()},
    }
    return report | ({"error": f"restarting {', '.join(down)}"} if down else {})


def check_trading_broker() -> dict:
    fn = _extra_checks.get("broker")
    if fn is None:
        return {"ok": True, "name": settings.BROKER}
    try:
        return fn()
    except Exception as exc:
        return {"ok": False, "name": settings.BROKER, "error": type(exc).__name__}


def health_report() -> tuple[bool, dict]:
    checks = {
        "database": check_database(),
        "celery_broker": check_celery_broker(),
        "worker": heartbeat_check("worker"),
        "beat": heartbeat_check("beat"),
        "broker": check_trading_broker(),
    }
    platform = check_platform()
    if platform is not None:
        checks["platform"] = platform
    for name, fn in _extra_checks.items():
        if name not in checks:
            try:
                checks[name] = fn()
            except Exception as exc:
                checks[name] = {"ok": False, "error": type(exc).__name__}
    ok = all(c["ok"] for c in checks.values())
    return ok, {"status": "ok" if ok else "degraded", "checks": checks, "time": clock.now().isoformat()}


def heartbeat_age(name: str) -> dt.timedelta | None:
    beat = Heartbeat.objects.filter(name=name).first()
    return None if beat is None else clock.wall_now() - beat.seen_at
