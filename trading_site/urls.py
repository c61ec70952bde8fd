"""URL root. Pages come from console/, the API from trading_site/api/urls.py under /api/v1/."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from trading_site.api import views as api_views

admin.site.site_header = "Trading Platform administration"
admin.site.site_title = "Trading Platform admin"

urlpatterns = [
    path("", include("ops.urls")),  # /healthz and /metrics
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("trading_site.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^api/(?P<path>.*)$", api_views.not_found, name="api-not-found"),
    path("", include("console.urls")),
]

handler403 = "trading_site.views.permission_denied"
handler404 = "trading_site.views.page_not_found"
handler500 = "trading_site.views.server_error"
