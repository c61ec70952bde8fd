"""API routes of this app, mounted under /api/v1/."""

from django.urls import path

from strategies.api import views

urlpatterns = [
    path("strategies/", views.StrategyListView.as_view(), name="strategy-list"),
    path("strategies/<int:strategy_id>/", views.StrategyDetailView.as_view(), name="strategy-detail"),
    path(
        "strategies/<int:strategy_id>/symbols/<str:symbol>/",
        views.StrategySymbolView.as_view(),
        name="strategy-symbol",
    ),
    path("signals/", views.SignalListView.as_view(), name="signal-list"),
    path("allocations/preview/", views.AllocationPreviewView.as_view(), name="allocation-preview"),
]
