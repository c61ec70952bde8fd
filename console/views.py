"""Operator console pages: thin views over selectors."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET

from console import selectors
from trading_site.lib.roles import VIEWER, role_required


@require_GET
@role_required(VIEWER)
def dashboard(request):
    return render(request, "console/dashboard.html", selectors.dashboard_context())
