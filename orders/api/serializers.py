"""Input and output serializers of the orders API (thin: parsing and shape only)."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from orders.conf import conf
from orders.models import (
    Fill,
    Order,
    OrderEvent,
    OrderSource,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from orders.selectors import twap_children, twap_parent_get
from orders.tca import parent_tca
from trading_site.api.serializers import (
    BoundedDateTimeField,
    PrebuiltFieldsMixin,
    PrebuiltInputFieldsMixin,
    StrictDecimalField,
)
from trading_site.lib.money import DecimalInputError, parse_price, parse_qty


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know (a typo must not silently change an order)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


@extend_schema_field({"oneOf": [{"type": "string", "format": "decimal", "example": "10"}, {"type": "number"}]})
class LedgerDecimalField(serializers.Field):
    """A quantity or price: JSON number or string, finite, positive, within the ledger precision."""

    def __init__(self, *, kind: str, **kwargs) -> None:
        self.kind = kind
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        parse = parse_qty if self.kind == "qty" else parse_price
        try:
            return parse(data, field=self.field_name)
        except DecimalInputError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def to_representation(self, value):
        return None if value is None else str(value)


class AlgoSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=[("twap", "twap")])
    slices = serializers.IntegerField(min_value=1, max_value=1000)
    horizon_minutes = StrictDecimalField(max_digits=9, decimal_places=4, min_value=Decimal("0.0001"))
    start_time = BoundedDateTimeField(required=False)
    clip_to_close = serializers.BooleanField(default=False)


class OrderCreateSerializer(PrebuiltInputFieldsMixin, StrictSerializer):
    symbol = serializers.CharField(max_length=16)
    side = serializers.ChoiceField(choices=Side.choices)
    qty = LedgerDecimalField(kind="qty")
    type = serializers.ChoiceField(choices=OrderType.choices, default=OrderType.MARKET)
    limit_price = LedgerDecimalField(kind="price", required=False, allow_null=True)
    time_in_force = serializers.ChoiceField(choices=TimeInForce.choices, default=TimeInForce.DAY)
    extended_hours = serializers.BooleanField(default=False)
    client_order_id = serializers.CharField(max_length=128, required=False)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    # Algorithmic execution: {"type": "twap", "slices": N, "horizon_minutes": M, "start_time"?: ISO-8601}.
    algo = AlgoSerializer(required=False)

    def validate(self, attrs):
        if "algo" in attrs and (attrs.get("extended_hours") or attrs.get("time_in_force") != TimeInForce.DAY):
            raise serializers.ValidationError({"algo": ["TWAP slices are regular-hours day orders."]})
        if attrs.get("type") == OrderType.LIMIT and attrs.get("limit_price") is None:
            raise serializers.ValidationError({"limit_price": ["A limit order needs a limit_price."]})
        if attrs.get("type") == OrderType.MARKET and attrs.get("limit_price") is not None:
            raise serializers.ValidationError({"limit_price": ["A market order takes no limit_price."]})
        return attrs


class OrderPreviewSerializer(OrderCreateSerializer):
    """The order an integration is about to send, as for ``POST /orders/`` (``client_order_id`` and
    ``reason`` are accepted and ignored: a preview stores nothing)."""


class CheckOutcomeSerializer(serializers.Serializer):
    name = serializers.CharField()
    ok = serializers.BooleanField()
    code = serializers.CharField(allow_blank=True)
    detail = serializers.CharField(allow_blank=True)


class OrderPreviewResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="every pre-trade check passes now")
    symbol = serializers.CharField()
    side = serializers.CharField()
    qty = serializers.CharField()
    reference_price = serializers.CharField(allow_null=True, help_text="last trade or quote used for the checks")
    notional = serializers.CharField(allow_null=True)
    checks = CheckOutcomeSerializer(many=True)


class ReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class CancelAllSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=2000)
    include_scheduled = serializers.BooleanField(default=True)


class OrderFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
    symbol = serializers.CharField(max_length=16, required=False)
    source = serializers.ChoiceField(choices=OrderSource.choices, required=False)
    created_after = BoundedDateTimeField(required=False)
    created_before = BoundedDateTimeField(required=False)
    page = serializers.IntegerField(min_value=1, required=False)


class OutcomePollSerializer(serializers.Serializer):
    url = serializers.CharField()
    after_seconds = serializers.IntegerField()
    detail = serializers.CharField()


_OUTCOME_PENDING = (OrderStatus.UNKNOWN, OrderStatus.SUBMITTING)


class OrderSerializer(PrebuiltFieldsMixin, serializers.ModelSerializer):
    type = serializers.CharField(source="order_type")
    created_by = serializers.SerializerMethodField()
    poll = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id", "client_order_id", "broker_order_id", "symbol", "side", "type", "qty", "limit_price",
            "time_in_force", "extended_hours", "status", "source", "strategy", "created_by", "reason",
            "reject_code", "reject_detail", "filled_qty", "avg_fill_price", "commission", "reference_price",
            "parent_order", "slice_num", "total_slices", "scheduled_time",
            "created_at", "updated_at", "submitted_at", "filled_at", "canceled_at", "poll",
        ]
        read_only_fields = fields

    def get_created_by(self, obj) -> str | None:
        return obj.created_by.get_username() if obj.created_by_id else None

    @extend_schema_field(OutcomePollSerializer(allow_null=True))
    def get_poll(self, obj) -> dict | None:
        """Set while the outcome is unknown (status ``unknown``/``submitting``, never ``failed``): where
        and when to ask again. The platform resolves the order with the broker by itself."""
        if obj.status not in _OUTCOME_PENDING:
            return None
        return {"url": f"/api/v1/orders/{obj.pk}/", "after_seconds": conf.trade_stream_poll_seconds,
                "detail": "The broker's answer is not known yet (it may still arrive). Do not resend under a new "
                          "client_order_id: GET this order until its status is final; resending the same "
                          "client_order_id is safe."}


class FillSerializer(PrebuiltFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = Fill
        fields = ["id", "execution_id", "qty", "price", "commission", "executed_at", "origin"]
        read_only_fields = fields


class OrderEventSerializer(PrebuiltFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = OrderEvent
        fields = ["id", "created_at", "kind", "from_status", "to_status", "data"]
        read_only_fields = fields


class ParentAggregateSerializer(serializers.Serializer):
    aggregated_status = serializers.CharField()
    total_slices = serializers.IntegerField()
    slices_submitted = serializers.IntegerField()
    filled_qty = serializers.DecimalField(max_digits=20, decimal_places=9, source="agg_filled_qty")
    avg_fill_price = serializers.DecimalField(max_digits=30, decimal_places=6, source="agg_avg_fill_price",
                                              allow_null=True)


class TCASerializer(serializers.Serializer):
    arrival_price = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    avg_fill_price = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    filled_qty = serializers.DecimalField(max_digits=20, decimal_places=9)
    shortfall_bps = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    adv = serializers.DecimalField(max_digits=24, decimal_places=2)
    est_single_order_bps = serializers.DecimalField(max_digits=12, decimal_places=2)
    est_slices_bps = serializers.DecimalField(max_digits=12, decimal_places=2)
    est_reduction_pct = serializers.DecimalField(max_digits=12, decimal_places=2)


class OrderDetailSerializer(OrderSerializer):
    """One order with fills and events; a TWAP parent also carries its aggregate, children and TCA."""

    fills = FillSerializer(many=True, read_only=True)
    events = OrderEventSerializer(many=True, read_only=True)
    aggregate = serializers.SerializerMethodField()
    children = serializers.SerializerMethodField()
    tca = serializers.SerializerMethodField()

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "fills", "events", "aggregate", "children", "tca"]
        read_only_fields = fields

    def _is_parent(self, obj: Order) -> bool:
        return obj.parent_order_id is None and obj.total_slices is not None

    def _children(self, obj: Order) -> list[Order]:
        cache = self.context.setdefault("_children", {})
        if obj.pk not in cache:
            cache[obj.pk] = list(twap_children(parent_id=obj.pk))
        return cache[obj.pk]

    @extend_schema_field(ParentAggregateSerializer(allow_null=True))
    def get_aggregate(self, obj: Order):
        if not self._is_parent(obj):
            return None

        return ParentAggregateSerializer(twap_parent_get(order_id=obj.pk)).data

    @extend_schema_field(OrderSerializer(many=True, allow_null=True))
    def get_children(self, obj: Order):
        if not self._is_parent(obj):
            return None
        return OrderSerializer(self._children(obj), many=True).data

    @extend_schema_field(TCASerializer(allow_null=True))
    def get_tca(self, obj: Order):
        if not self._is_parent(obj):
            return None

        return TCASerializer(parent_tca(parent=obj, children=self._children(obj))).data


class PositionSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    qty = serializers.DecimalField(max_digits=20, decimal_places=9)
    avg_cost = serializers.DecimalField(max_digits=20, decimal_places=6)
    realized_pnl = serializers.DecimalField(max_digits=20, decimal_places=6)
    last_price = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    market_value = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    unrealized_pnl = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)


class AccountSerializer(serializers.Serializer):
    """The live account (``orders.selectors.account_live``): the same cash, equity and P&L as the console's
    dashboard and ``monitor status``; ``snapshot_time`` is the broker snapshot it is anchored on."""

    time = serializers.DateTimeField()
    snapshot_time = serializers.DateTimeField()
    broker = serializers.CharField()
    equity = serializers.DecimalField(max_digits=20, decimal_places=6)
    cash = serializers.DecimalField(max_digits=20, decimal_places=6)
    buying_power = serializers.DecimalField(max_digits=20, decimal_places=6)
    long_market_value = serializers.DecimalField(max_digits=20, decimal_places=6)
    short_market_value = serializers.DecimalField(max_digits=20, decimal_places=6)
    realized_pnl = serializers.DecimalField(max_digits=20, decimal_places=6)
    unrealized_pnl = serializers.DecimalField(max_digits=20, decimal_places=6)
    total_pnl = serializers.DecimalField(max_digits=20, decimal_places=6)
    day_pnl = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    pattern_day_trader = serializers.BooleanField(allow_null=True)
    daytrade_count = serializers.IntegerField(allow_null=True)


class CancelAllResultSerializer(serializers.Serializer):
    canceled = serializers.IntegerField()
