"""Raising alerts: stored for the console, logged, and published on the Redis ``alerts`` channel."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.db import transaction

from trading_site.lib import clock
from trading_site.models import Alert

logger = logging.getLogger(__name__)
ALERTS_CHANNEL = "alerts"


def alert_raise(
    *, source: str, message: str, severity: str = Alert.Severity.WARNING, metric: str = "", data: dict | None = None
) -> Alert:
    alert = Alert.objects.create(
        created_at=clock.now(), severity=severity, source=source, metric=metric, message=message, data=data or {}
    )
    level = logging.CRITICAL if severity == Alert.Severity.CRITICAL else logging.WARNING
    logger.log(level, "alert %s: %s", source, message, extra={"metric": metric, "alert_id": alert.pk})
    payload = {
        "id": alert.pk,
        "source": source,
        "metric": metric,
        "severity": severity,
        "message": message,
        "data": data or {},
        "created_at": alert.created_at.isoformat(),
    }
    transaction.on_commit(lambda: publish(ALERTS_CHANNEL, payload))
    return alert


def publish(channel: str, payload: dict) -> bool:
    """Publish JSON on a Redis channel; without Redis (embedded mode) the stored alert suffices."""
    if not settings.REDIS_URL:
        return False
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
        client.publish(channel, json.dumps(payload, default=str))
        return True
    except redis.RedisError:
        logger.exception("could not publish to Redis channel %s", channel)
        return False
