"""Admin: the ledger is read-mostly. Corrections go through services (audited), never raw edits."""

from __future__ import annotations

from django.contrib import admin, messages

from orders.gateway import OrderNotCancelable, order_cancel
from orders.models import AccountSnapshot, Fill, Order, OrderEvent, Position
from trading_site.lib.admin import ReadOnlyAdmin


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return self.fields


class FillInline(_ReadOnlyInline):
    model = Fill
    fields = ["execution_id", "qty", "price", "commission", "executed_at", "origin"]


class OrderEventInline(_ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "kind", "from_status", "to_status", "actor", "data"]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["client_order_id", "symbol", "side", "qty", "order_type", "status", "filled_qty",
                    "avg_fill_price", "source", "created_at"]
    list_filter = ["status", "source", "side", "order_type"]
    search_fields = ["client_order_id", "broker_order_id", "symbol"]
    date_hierarchy = "created_at"
    inlines = [FillInline, OrderEventInline]
    actions = ["cancel_selected"]

    def has_change_permission(self, request, obj=None) -> bool:
        # Needed for the cancel action; every field stays read-only.
        return request.user.is_superuser or request.user.has_perm("orders.change_order")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.action(description="Cancel selected orders (through the gateway, audited)")
    def cancel_selected(self, request, queryset):
        done = 0
        for order in queryset.order_by("pk"):
            try:
                order_cancel(order=order, actor=request.user, reason="admin action")
                done += 1
            except OrderNotCancelable:
                continue
        self.message_user(request, f"{done} order(s) cancel requested.", messages.SUCCESS)


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = ["execution_id", "order", "symbol", "side", "qty", "price", "commission", "executed_at", "origin"]
    list_filter = ["side", "origin"]
    search_fields = ["execution_id", "symbol", "order__client_order_id"]


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = ["symbol", "qty", "avg_cost", "realized_pnl", "updated_at"]
    search_fields = ["symbol"]


@admin.register(AccountSnapshot)
class AccountSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["time", "equity", "cash", "buying_power", "broker"]
    date_hierarchy = "time"
