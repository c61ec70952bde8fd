"""Read-only API of the daily workflow: performance and rebalance runs (viewer role)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from workflow.api import serializers as s
from workflow.models import RebalanceRun
from workflow.performance import performance_summary


class PerformanceView(APIView):
    @extend_schema(parameters=[s.PerformanceQuery], responses=s.PerformanceOutput,
                   summary="Equity curve, daily P&L, drawdown, rolling Sharpe and summary metrics")
    def get(self, request):
        query = s.PerformanceQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(s.PerformanceOutput(performance_summary(**query.validated_data)).data)


class RebalanceRunListView(APIView):
    @extend_schema(parameters=[s.RebalanceRunQuery], responses=s.RebalanceRunOutput(many=True),
                   summary="Recent rebalance runs with their steps")
    def get(self, request):
        query = s.RebalanceRunQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        runs = RebalanceRun.objects.filter(mode=RebalanceRun.Mode.LIVE).prefetch_related("steps")
        if query.validated_data.get("status"):
            runs = runs.filter(status=query.validated_data["status"])
        runs = runs.order_by("-day", "-id")[: query.validated_data["limit"]]
        return Response(s.RebalanceRunOutput(runs, many=True).data)
