"""Market-data API: raw daily bars of a symbol (viewer role)."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from marketdata import selectors
from marketdata.api import serializers as s


class BarListView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("start", str, description="YYYY-MM-DD"),
            OpenApiParameter("end", str, description="YYYY-MM-DD"),
            OpenApiParameter("limit", int, description="latest N bars (1-5000, default 250)"),
        ],
        responses=s.BarListOutput,
        summary="Raw daily bars of a symbol",
    )
    def get(self, request, symbol: str):
        query = s.BarQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        if selectors.asset_get(symbol=symbol) is None:
            raise NotFound(f"unknown symbol {symbol.upper()}")
        bars = selectors.bars_recent(symbol=symbol, **query.validated_data)
        return Response(s.BarListOutput({"symbol": symbol.upper(), "bars": [asdict(b) for b in bars]}).data)
