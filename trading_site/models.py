"""Platform-wide records: process heartbeats, alerts and the action log of manual/system actions.

Model changes are diffed by django-auditlog; :class:`ActionLog` records *actions* (engaging the
kill switch, a manual order, a strategy toggle, a secret read) with who, when, what and why.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Heartbeat(models.Model):
    """Last time a process showed it was alive (``worker``, ``beat``, ``trade_stream``)."""

    name = models.CharField(max_length=40, unique=True)
    seen_at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"


class Alert(models.Model):
    """Something an operator should see on the dashboard until acknowledged."""

    class Severity(models.TextChoices):
        INFO = "info"
        WARNING = "warning"
        CRITICAL = "critical"

    created_at = models.DateTimeField(db_index=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    source = models.CharField(max_length=40, help_text="app or subsystem, e.g. reconciliation")
    metric = models.CharField(max_length=60, blank=True, help_text="machine-readable kind")
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["acknowledged_at", "-created_at"])]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.source}: {self.message[:60]}"


class ActionLog(models.Model):
    """Append-only record of an action: who (or the system), when, what, on what, and why."""

    created_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=60, db_index=True, help_text="e.g. kill_switch.engage")
    object_type = models.CharField(max_length=60, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        who = self.actor.get_username() if self.actor_id else "system"
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {who} {self.action}"
