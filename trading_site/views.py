"""Platform-level views: the health endpoint and error pages."""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from trading_site import metrics
from trading_site.api.errors import error_body
from trading_site.health import health_report
from trading_site.lib.clientip import client_in_networks


@never_cache
@require_GET
def healthz(request):
    """Status for anyone (``{"status": "ok"|"degraded"}``, 200/503); the per-component checks only for
    staff users and clients in ``METRICS_ALLOWED_NETWORKS`` (the monitoring hosts): the details name
    the stack and its weak spots."""
    ok, report = health_report()
    detailed = (request.user.is_authenticated and request.user.is_staff) or client_in_networks(
        request, metrics.CONFIG.networks
    )
    body = report if detailed else {"status": report["status"]}
    return JsonResponse(body, status=200 if ok else 503)


def permission_denied(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("permission_denied", "Your role does not allow this."), status=403)
    message = str(exception) if exception and str(exception) else "Your role does not allow this action."
    return render(request, "errors/403.html", {"message": message}, status=403)


def page_not_found(request, exception=None):
    return render(request, "errors/404.html", status=404)
