from django.contrib import admin

from trading_site.lib.admin import ReadOnlyAdmin
from trading_site.models import ActionLog, Alert, ApiToken, Heartbeat


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


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Who holds which API token, until when, and when it was last used. Read-only: owners revoke
    their own through the API (audited); an admin revokes a user's tokens by changing the user's
    password or role."""

    list_display = ("user", "name", "prefix", "created_at", "expires_at", "last_used_at", "last_used_ip")
    list_filter = ("expires_at",)
    search_fields = ("user__username", "name", "prefix")
    readonly_fields = ("user", "name", "prefix", "role", "created_at", "expires_at", "last_used_at", "last_used_ip")
    exclude = ("key_digest", "password_mark")

    def has_add_permission(self, request) -> bool:
        return False  # issued through the API only (the key is shown once, to its owner)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
