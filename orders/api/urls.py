"""API routes of the orders app, mounted under /api/v1/."""

from django.urls import path

from orders.api import views

urlpatterns = [
    path("orders/", views.OrderListCreateView.as_view(), name="orders-list"),
    path("orders/preview/", views.OrderPreviewView.as_view(), name="orders-preview"),
    path("orders/cancel-all/", views.OrderCancelAllView.as_view(), name="orders-cancel-all"),
    path("orders/<int:order_id>/", views.OrderDetailView.as_view(), name="orders-detail"),
    path("orders/<int:order_id>/cancel/", views.OrderCancelView.as_view(), name="orders-cancel"),
    path("positions/", views.PositionListView.as_view(), name="positions-list"),
    path("account/", views.AccountView.as_view(), name="account"),
]
