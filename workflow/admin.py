"""Admin: rebalance runs are written by the workflow only; the admin shows them with their steps."""

from django.contrib import admin

from trading_site.lib.admin import ReadOnlyAdmin
from workflow.models import RebalanceRun, RebalanceStep


class RebalanceStepInline(admin.TabularInline):
    model = RebalanceStep
    extra = 0
    can_delete = False
    readonly_fields = ("name", "position", "status", "started_at", "finished_at", "duration_ms", "count", "detail", "error")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(RebalanceRun)
class RebalanceRunAdmin(ReadOnlyAdmin):
    """Runs are written by the workflow only; the admin shows them with their steps."""

    list_display = ("day", "mode", "status", "failed_step", "orders_submitted", "orders_rejected", "attempts")
    list_filter = ("status", "mode")
    inlines = [RebalanceStepInline]
