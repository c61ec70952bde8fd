"""Admin: market data is correctable here (bars, corporate actions, assets)."""

from django.contrib import admin

from marketdata.models import Asset, Bar, CorporateAction


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
