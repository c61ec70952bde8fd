"""Operations endpoints: /healthz (status for anyone, details for staff and monitoring hosts) and /metrics."""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ops import metrics
from ops.metrics import metrics_view
from trading_site.health import health_report
from trading_site.lib.clientip import client_in_networks

__all__ = ["healthz", "metrics_view"]


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
