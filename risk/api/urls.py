"""API routes of this app, mounted under /api/v1/."""

from django.urls import path

from risk.api import views

urlpatterns = [
    path("risk/status/", views.StatusView.as_view(), name="risk-status"),
    path("risk/kill-switch/", views.KillSwitchView.as_view(), name="risk-kill-switch"),
    path("risk/breakers/<str:name>/reset/", views.BreakerResetView.as_view(), name="risk-breaker-reset"),
    path("risk/limits/", views.LimitsView.as_view(), name="risk-limits"),
    path("risk/rollout/", views.RolloutView.as_view(), name="risk-rollout"),
    path("risk/rollout/phases/<int:number>/", views.RolloutPhaseView.as_view(), name="risk-rollout-phase"),
    path("risk/positions/<str:symbol>/stops/", views.PositionRiskView.as_view(), name="risk-position-stops"),
]
