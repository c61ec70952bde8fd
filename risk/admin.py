"""Risk models in the Django admin: visible for inspection, changed only through the services.

Every change to the kill switch, breakers, limits and rollout phase needs a reason and writes a
RiskEvent and an audit action, which the API and console provide; the admin therefore shows these
rows read-only (a silent edit here would bypass the cached-state invalidation and the audit trail).
"""

from django.contrib import admin

from risk.models import (
    CircuitBreaker,
    EquityWatermark,
    KillSwitch,
    KillSwitchEvent,
    PositionRisk,
    RiskEvent,
    RiskLimits,
    RolloutPhase,
)
from trading_site.lib.admin import ReadOnlyAdmin


@admin.register(KillSwitchEvent)
class KillSwitchEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "action", "actor", "reason")
    list_filter = ("action",)


@admin.register(RiskEvent)
class RiskEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "subject", "actor", "reason")
    list_filter = ("kind",)
    search_fields = ("subject", "reason")


@admin.register(CircuitBreaker)
class CircuitBreakerAdmin(ReadOnlyAdmin):
    list_display = ("name", "state", "tripped_at", "reset_at", "reset_by")


@admin.register(RolloutPhase)
class RolloutPhaseAdmin(ReadOnlyAdmin):
    list_display = ("number", "name", "capital_cap", "symbols")


for model in (KillSwitch, RiskLimits, EquityWatermark, PositionRisk):
    admin.site.register(model, ReadOnlyAdmin)
