"""API routes of the workflow app, mounted under /api/v1/."""

from django.urls import path

from workflow.api import views

urlpatterns = [
    path("performance/", views.PerformanceView.as_view(), name="performance"),
    path("rebalance-runs/", views.RebalanceRunListView.as_view(), name="rebalance-run-list"),
]
