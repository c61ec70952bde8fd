"""Reads for the console pages."""

from __future__ import annotations

from trading_site.health import health_report
from trading_site.models import Alert


def dashboard_context() -> dict:
    ok, report = health_report()
    alerts = list(Alert.objects.filter(acknowledged_at__isnull=True).order_by("-created_at")[:10])
    return {"health_ok": ok, "health": report, "alerts": alerts}
