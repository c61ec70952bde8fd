"""Strategies API: one view per operation, thin — parse, call a service or selector, render.

Writes need the operator role (the platform default for unsafe methods) and are audited by the
services with the request's user as actor. The allocation preview is a POST only because it takes a
body; it changes nothing, so viewers may call it.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from strategies import selectors, services
from strategies.api import serializers as s
from trading_site.lib.roles import VIEWER


class StrategyListView(APIView):
    @extend_schema(responses=s.StrategyOutput(many=True), summary="Strategies with per-symbol toggles")
    def get(self, request):
        return Response(s.StrategyOutput(selectors.strategy_list(), many=True).data)


class StrategyDetailView(APIView):
    def _get(self, strategy_id: int) -> dict:
        row = selectors.strategy_get(strategy_id=strategy_id)
        if row is None:
            raise NotFound(f"strategy {strategy_id} does not exist")
        return row

    @extend_schema(responses=s.StrategyOutput)
    def get(self, request, strategy_id: int):
        return Response(s.StrategyOutput(self._get(strategy_id)).data)

    @extend_schema(request=s.StrategyUpdateInput, responses=s.StrategyOutput, summary="Enable/disable, parameters, cap")
    def patch(self, request, strategy_id: int):
        data = s.StrategyUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.strategy_update(actor=request.user, strategy_id=strategy_id, **data.validated_data)
        return Response(s.StrategyOutput(self._get(strategy_id)).data)


class StrategySymbolView(APIView):
    @extend_schema(request=s.SymbolToggleInput, responses=s.SymbolToggleOutput, summary="Enable/disable one symbol")
    def patch(self, request, strategy_id: int, symbol: str):
        data = s.SymbolToggleInput(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.strategy_symbol_set(
            actor=request.user, strategy_id=strategy_id, symbol=symbol, **data.validated_data
        )
        return Response({"strategy": row.strategy.name, "symbol": row.asset.symbol, "enabled": row.enabled})


class SignalListView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("run_id", str, description="a signal run; default: the latest"),
            OpenApiParameter("strategy", str, description="strategy name"),
        ],
        responses=s.SignalListOutput,
        summary="Signals of one run",
    )
    def get(self, request):
        query = s.SignalQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        strategy = query.validated_data.get("strategy")
        run_id = query.validated_data.get("run_id") or selectors.signal_latest_run_id(strategy=strategy)
        rows = selectors.signals_for_run(run_id=run_id, strategy=strategy) if run_id else []
        return Response(s.SignalListOutput({"run_id": run_id, "results": rows}).data)


class AllocationPreviewView(APIView):
    write_role = VIEWER

    @extend_schema(request=s.AllocationPreviewInput, responses=s.AllocationPreviewOutput, summary="Preview the blend")
    def post(self, request):
        data = s.AllocationPreviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        outcome = services.allocation_preview(method=v["method"], as_of=v.get("as_of"), gross=v.get("gross"))
        allocation = outcome.allocation
        body = {
            "method": allocation.method,
            "as_of": outcome.as_of,
            "session": outcome.session,
            "gross": allocation.gross,
            "cap_feasible": allocation.cap_feasible,
            "weights": allocation.weights.to_dict("records"),
            "by_strategy": allocation.by_strategy.to_dict("records"),
            "excluded": allocation.excluded,
            "correlation": outcome.correlation.as_dict(),
        }
        return Response(s.AllocationPreviewOutput(body).data)
