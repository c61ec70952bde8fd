from django.contrib import admin

from trading_site.lib.admin import ReadOnlyAdmin
from trading_site.models import ActionLog, Alert, Heartbeat


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ("name", "seen_at")
    readonly_fields = ("name", "seen_at", "detail")


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("created_at", "severity", "source", "metric", "message", "acknowledged_at")
    list_filter = ("severity", "source", "acknowledged_at")
    readonly_fields = ("created_at", "severity", "source", "metric", "message", "data")


@admin.register(ActionLog)
class ActionLogAdmin(ReadOnlyAdmin):
    """Append-only: visible to admins, never edited or deleted here."""

    list_display = ("created_at", "actor", "action", "object_type", "object_id", "reason")
    list_filter = ("action", "object_type")
    search_fields = ("reason", "object_id", "actor__username")
