"""Admin: strategy configuration is read-only because its changes must go through the audited
services (API or console)."""

from django.contrib import admin

from strategies.models import Signal, Strategy, StrategySymbol
from trading_site.lib.admin import ReadOnlyAdmin


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
