"""Test-only URL conf: a token-authenticated API write, to check the audit actor of DRF requests."""

from django.contrib.auth.models import Group
from django.urls import include, path
from rest_framework.decorators import api_view
from rest_framework.response import Response


@api_view(["POST"])
def rename_group(request, pk):
    group = Group.objects.get(pk=pk)
    group.name = request.data["name"]
    group.save()
    return Response({"ok": True})


urlpatterns = [
    path("api/v1/test/groups/<int:pk>/rename/", rename_group),
    path("", include("trading_site.urls")),
]
