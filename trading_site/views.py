"""Platform-level views: the error pages (/healthz and /metrics are in ops/views.py)."""

from __future__ import annotations

import sys

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views import defaults

from trading_site.api.errors import error_body
from trading_site.lib.outages import RETRY_AFTER_SECONDS, unavailable_detail, unavailable_service


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
