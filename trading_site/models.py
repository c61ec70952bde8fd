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


class ApiToken(models.Model):
    """A named API token of one user (``Authorization: Token <key>``), docs/ADRs/0021.

    Only the SHA-256 digest of the key is stored; the key is shown once, at issue. A token is valid
    until ``expires_at``, until its owner deletes it, and only while the user keeps the password and
    the role it was issued under (``password_mark``, ``role``): a password change or a role change
    revokes every token of the user without a write to this table, as Django does for sessions.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=60)
    key_digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="first characters of the key, to recognise it")
    role = models.CharField(max_length=20, blank=True, help_text="the user's role at issue")
    password_mark = models.CharField(max_length=64, help_text="the user's session hash at issue")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="api_token_user_name_unique"),
            models.CheckConstraint(condition=models.Q(expires_at__gt=models.F("created_at")),
                                   name="api_token_expires_after_created"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
