"""Admin: market data is correctable here (bars, corporate actions, assets); strategy configuration is
read-only because its changes must go through the audited services (API or console)."""

from django.contrib import admin

from strategies.models import Asset, Bar, CorporateAction, RebalanceRun, RebalanceStep, Signal, Strategy, StrategySymbol
from trading_site.lib.admin import ReadOnlyAdmin


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ("symbol", "name", "tradable", "fractionable", "min_lot")
    list_filter = ("tradable", "fractionable")
    search_fields = ("symbol", "name")


@admin.register(Bar)
class BarAdmin(admin.ModelAdmin):
    list_display = ("asset", "session", "open", "high", "low", "close", "volume", "source")
    list_filter = ("source",)
    search_fields = ("asset__symbol",)
    date_hierarchy = "session"
    list_select_related = ("asset",)
    raw_id_fields = ("asset",)


@admin.register(CorporateAction)
class CorporateActionAdmin(admin.ModelAdmin):
    list_display = ("asset", "ex_date", "kind", "ratio_from", "ratio_to", "cash_amount", "source")
    list_filter = ("kind", "source")
    search_fields = ("asset__symbol",)
    list_select_related = ("asset",)


@admin.register(Strategy)
class StrategyAdmin(ReadOnlyAdmin):
    list_display = ("name", "kind", "enabled", "capital_cap", "updated_at")
    list_filter = ("kind", "enabled")


@admin.register(StrategySymbol)
class StrategySymbolAdmin(ReadOnlyAdmin):
    list_display = ("strategy", "asset", "enabled")
    list_filter = ("strategy", "enabled")
    list_select_related = ("strategy", "asset")


@admin.register(Signal)
class SignalAdmin(ReadOnlyAdmin):
    list_display = ("run_id", "strategy", "asset", "session", "score", "target_weight")
    list_filter = ("strategy",)
    search_fields = ("run_id", "asset__symbol")
    list_select_related = ("strategy", "asset")


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
