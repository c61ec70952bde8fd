"""Orders API views: parse, call one service, render. Permissions: viewers read, operators write."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders import selectors
from orders.api import serializers as s
from orders.gateway import order_cancel, order_cancel_all, order_dry_run, order_place
from orders.models import OrderSource
from orders.reconcile import account_snapshot_record
from orders.slicing import twap_dry_run, twap_order_place
from trading_site.api.openapi import PAGE_PARAMETER, paginated
from trading_site.lib import clock
from trading_site.lib.errors import DomainError
from trading_site.lib.money import quantize_cents


class OrderListCreateView(APIView):
    @extend_schema(parameters=[s.OrderFilterSerializer, PAGE_PARAMETER], responses=paginated(s.OrderSerializer))
    def get(self, request: Request) -> Response:
        filters = s.OrderFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        qs = selectors.orders_list(
            status=f.get("status"),
            symbol=f.get("symbol"),
            source=f.get("source"),
            created_from=f.get("created_after"),
            created_to=f.get("created_before"),
        ).select_related("created_by")
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(s.OrderSerializer(page, many=True).data)

    # A plain order answers with the order; a TWAP parent ("algo") with its detail (aggregate, children, TCA).
    _created = PolymorphicProxySerializer(
        component_name="OrderCreated",
        serializers=[s.OrderSerializer, s.OrderDetailSerializer],
        resource_type_field_name=None,
    )

    @extend_schema(request=s.OrderCreateSerializer, responses={201: _created, 200: _created})
    def post(self, request: Request) -> Response:
        data = s.OrderCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if "algo" in v:
            return self._twap(request, v)
        result = order_place(
            symbol=v["symbol"],
            side=v["side"],
            qty=v["qty"],
            order_type=v["type"],
            limit_price=v.get("limit_price"),
            time_in_force=v["time_in_force"],
            extended_hours=v["extended_hours"],
            client_order_id=v.get("client_order_id"),
            reason=v["reason"],
            source=OrderSource.API,
            actor=request.user,
        )
        return Response(
            s.OrderSerializer(result.order).data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        )

    def _twap(self, request: Request, v: dict) -> Response:
        algo = v["algo"]
        result = twap_order_place(
            symbol=v["symbol"],
            side=v["side"],
            qty=v["qty"],
            slices=algo["slices"],
            horizon_minutes=algo["horizon_minutes"],
            start_time=algo.get("start_time"),
            clip_to_close=algo["clip_to_close"],
            order_type=v["type"],
            limit_price=v.get("limit_price"),
            client_order_id=v.get("client_order_id"),
            reason=v["reason"],
            source=OrderSource.API,
            actor=request.user,
        )
        body = s.OrderDetailSerializer(selectors.order_detail(order_id=result.order.pk)).data
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class OrderPreviewView(APIView):
    """The pre-trade pipeline in preview: every check an order would meet now, nothing stored, sent or
    counted (the console's confirmation step runs the same pipeline)."""

    @extend_schema(request=s.OrderPreviewSerializer, responses=s.OrderPreviewResultSerializer,
                   summary="Preview an order: run every pre-trade check without placing it")
    def post(self, request: Request) -> Response:
        data = s.OrderPreviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        common = {"symbol": v["symbol"], "side": v["side"], "qty": v["qty"], "order_type": v["type"],
                  "limit_price": v.get("limit_price"), "source": OrderSource.API, "actor": request.user}
        if "algo" in v:
            algo = v["algo"]
            run = twap_dry_run(**common, slices=algo["slices"], horizon_minutes=algo["horizon_minutes"],
                               start_time=algo.get("start_time"), clip_to_close=algo["clip_to_close"])
        else:
            run = order_dry_run(**common, time_in_force=v["time_in_force"], extended_hours=v["extended_hours"])
        intent = run.intent
        notional = intent.notional
        return Response(s.OrderPreviewResultSerializer({
            "ok": run.ok,
            "symbol": intent.symbol,
            "side": intent.side,
            "qty": format(intent.qty.normalize(), "f"),
            "reference_price": None if intent.reference_price is None else str(intent.reference_price),
            "notional": None if notional is None else str(quantize_cents(notional)),
            "checks": [asdict(c) for c in run.checks],
        }).data)


class _NotFound(DomainError):
    code = "not_found"
    kind = "not_found"


def _order_or_404(order_id: int):
    order = selectors.order_detail(order_id=order_id)
    if order is None:
        raise _NotFound("Order not found.")
    return order


class OrderDetailView(APIView):
    @extend_schema(responses=s.OrderDetailSerializer)
    def get(self, request: Request, order_id: int) -> Response:
        return Response(s.OrderDetailSerializer(_order_or_404(order_id)).data)


class OrderCancelView(APIView):
    @extend_schema(request=s.ReasonSerializer, responses=s.OrderSerializer)
    def post(self, request: Request, order_id: int) -> Response:
        data = s.ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = _order_or_404(order_id)
        result = order_cancel(order=order, actor=request.user, reason=data.validated_data["reason"])
        return Response(s.OrderSerializer(result).data)


class OrderCancelAllView(APIView):
    @extend_schema(request=s.CancelAllSerializer, responses=s.CancelAllResultSerializer)
    def post(self, request: Request) -> Response:
        data = s.CancelAllSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        count = order_cancel_all(
            actor=request.user,
            reason=data.validated_data["reason"],
            include_scheduled=data.validated_data["include_scheduled"],
        )
        return Response({"canceled": count})


class PositionListView(APIView):
    @extend_schema(responses=s.PositionSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(s.PositionSerializer(selectors.positions_list(), many=True).data)


class AccountView(APIView):
    @extend_schema(responses=s.AccountSerializer)
    def get(self, request: Request) -> Response:
        now = clock.now()
        account = selectors.account_live(now=now)
        if account is None:  # nothing anchors cash yet: ask the broker once
            account_snapshot_record()
            account = selectors.account_live(now=now)
        return Response(s.AccountSerializer(account).data)
