"""Read-only admin for the tax ledger: corrections go through imports, never by editing rows."""

from django.contrib import admin

from tax.models import AppliedSplit, LotAdjustment, RealizedGain, TaxExport, TaxLot, TaxTrade, WashSale
from trading_site.lib.admin import ReadOnlyAdmin


@admin.register(TaxLot)
class TaxLotAdmin(ReadOnlyAdmin):
    list_display = (
        "symbol",
        "trade_id",
        "acquired_date",
        "holding_period_start",
        "open_qty",
        "cost_basis_total",
        "status",
    )
    list_filter = ("status", "wash_absorbed")
    search_fields = ("symbol", "trade_id")


@admin.register(RealizedGain)
class RealizedGainAdmin(ReadOnlyAdmin):
    list_display = ("date_sold", "symbol", "qty", "proceeds", "cost_basis", "adjustment_amount", "gain_loss", "term")
    list_filter = ("term",)
    search_fields = ("symbol", "sale_trade_id", "lot_trade_id")


@admin.register(WashSale)
class WashSaleAdmin(ReadOnlyAdmin):
    list_display = ("original_sale_date", "symbol", "qty", "disallowed_loss", "replacement_trade_id")
    search_fields = ("symbol", "sale_trade_id")


@admin.register(TaxTrade)
class TaxTradeAdmin(ReadOnlyAdmin):
    list_display = ("trade_date", "symbol", "side", "qty", "price", "trade_id", "origin", "error")
    list_filter = ("origin", "side")
    search_fields = ("symbol", "trade_id", "execution_id")


admin.site.register(LotAdjustment, ReadOnlyAdmin)
admin.site.register(AppliedSplit, ReadOnlyAdmin)
admin.site.register(TaxExport, ReadOnlyAdmin)
