"""Tax API: viewers read everything, including the wash-sale preview (a read despite being a POST)."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tax import conf, selectors
from tax.api import serializers as s
from trading_site.api.openapi import PAGE_PARAMETER, paginated
from trading_site.lib import clock
from trading_site.lib.roles import VIEWER

METHOD_NOTE = (
    "Lots are relieved by {method}. Alpaca's 1099-B uses FIFO; any other method is what-if analytics, "
    "the broker's 1099-B is the filed record. " + selectors.COVERAGE_NOTE
)


def _paginate(view: APIView, request: Request, qs, serializer_class) -> Response:
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(qs, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


class LotListView(APIView):
    @extend_schema(parameters=[s.LotFilterSerializer, PAGE_PARAMETER], responses=paginated(s.LotSerializer))
    def get(self, request: Request) -> Response:
        f = s.LotFilterSerializer(data=request.query_params)
        f.is_valid(raise_exception=True)
        qs = selectors.lots_list(
            symbol=f.validated_data.get("symbol"), include_closed=f.validated_data["include_closed"]
        )
        return _paginate(self, request, qs, s.LotSerializer)


class RealizedListView(APIView):
    @extend_schema(parameters=[s.YearFilterSerializer, PAGE_PARAMETER], responses=paginated(s.RealizedSerializer))
    def get(self, request: Request) -> Response:
        f = s.YearFilterSerializer(data=request.query_params)
        f.is_valid(raise_exception=True)
        return _paginate(
            self, request, selectors.realized_list(year=f.validated_data.get("year")), s.RealizedSerializer
        )


class WashSaleListView(APIView):
    @extend_schema(parameters=[s.YearFilterSerializer, PAGE_PARAMETER], responses=paginated(s.WashSaleSerializer))
    def get(self, request: Request) -> Response:
        f = s.YearFilterSerializer(data=request.query_params)
        f.is_valid(raise_exception=True)
        qs = selectors.wash_sales_list(year=f.validated_data.get("year"))
        return _paginate(self, request, qs, s.WashSaleSerializer)


class WashSaleWindowsView(APIView):
    @extend_schema(responses=s.WindowSerializer(many=True))
    def get(self, request: Request) -> Response:
        windows = selectors.wash_sale_windows_open(now=clock.now())
        return Response(s.WindowSerializer(windows, many=True).data)


class WashSalePreviewView(APIView):
    write_role = VIEWER  # computes, changes nothing

    @extend_schema(request=s.PreviewInputSerializer, responses=s.PreviewOutputSerializer)
    def post(self, request: Request) -> Response:
        data = s.PreviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        preview = selectors.wash_sale_preview(
            symbol=v["symbol"], side=v["side"], qty=v["qty"], price=v["price"], now=clock.now()
        )
        body = {**asdict(preview), "method_note": METHOD_NOTE.format(method=conf.LOT_METHOD.upper())}
        return Response(s.PreviewOutputSerializer(body).data)
