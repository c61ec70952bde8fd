"""Platform-level views: the health endpoint and error pages."""

from __future__ import annotations

import sys

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from trading_site import metrics
from trading_site.api.errors import error_body
from trading_site.health import health_report
from trading_site.lib.clientip import client_in_networks
from trading_site.lib.outages import RETRY_AFTER_SECONDS, unavailable_detail, unavailable_service


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


def server_error(request):
    """Django's 500 handler. An unreachable database, Redis or task queue is a 503, not a server
    error: JSON in the API's error shape under /api/, else a plain page (rendered without the
    request's context processors, which would need the session and so the database)."""
    service = unavailable_service(sys.exc_info()[1])
    if service is None:
        return defaults.server_error(request)
    detail = unavailable_detail(service)
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body("service_unavailable", detail), status=503)
    else:
        html = loader.render_to_string("errors/503.html", {"service": service, "path": request.path})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
