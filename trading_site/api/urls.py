"""Everything under /api/v1/. Apps contribute their own ``api/urls.py``."""

from django.urls import include, path

from trading_site.api import views

urlpatterns = [
    path("auth/token/", views.token_obtain, name="api-token"),
    path("auth/tokens/", views.token_list, name="api-tokens"),
    path("auth/tokens/<int:token_id>/", views.token_delete, name="api-token-delete"),
    path("me/", views.me, name="api-me"),
    path("", include("marketdata.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("strategies.api.urls")),
    path("", include("workflow.api.urls")),
    path("", include("risk.api.urls")),
    path("", include("tax.api.urls")),
]
