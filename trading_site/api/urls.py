"""Everything under /api/v1/. Apps contribute their own ``api/urls.py``."""

from django.urls import include, path

from trading_site.api import views

urlpatterns = [
    path("auth/token/", views.token_obtain, name="api-token"),
    path("me/", views.me, name="api-me"),
    path("", include("orders.api.urls")),
    path("", include("strategies.api.urls")),
    path("", include("risk.api.urls")),
    path("", include("tax.api.urls")),
]
