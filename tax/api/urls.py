"""API routes of the tax app, mounted under /api/v1/."""

from django.urls import path

from tax.api import views

urlpatterns = [
    path("tax/lots/", views.LotListView.as_view(), name="tax-lots"),
    path("tax/realized/", views.RealizedListView.as_view(), name="tax-realized"),
    path("tax/wash-sales/", views.WashSaleListView.as_view(), name="tax-wash-sales"),
    path("tax/wash-sale-windows/", views.WashSaleWindowsView.as_view(), name="tax-wash-sale-windows"),
    path("tax/wash-sale-preview/", views.WashSalePreviewView.as_view(), name="tax-wash-sale-preview"),
]
