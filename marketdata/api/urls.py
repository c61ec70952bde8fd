"""API routes of the market-data app, mounted under /api/v1/."""

from django.urls import path

from marketdata.api import views

urlpatterns = [
    path("bars/<str:symbol>/", views.BarListView.as_view(), name="bar-list"),
]
