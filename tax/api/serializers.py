"""Input and output serializers of the tax API."""

from __future__ import annotations

from rest_framework import serializers

from tax.models import RealizedGain, TaxLot, WashSale
from trading_site.api.serializers import StrictDecimalField
from trading_site.lib.money import (
    MONEY_DIGITS,
    PRICE_DIGITS,
    PRICE_LIMIT,
    PRICE_PLACES,
    PRICE_QUANTUM,
    QTY_DIGITS,
    QTY_LIMIT,
    QTY_PLACES,
    QTY_QUANTUM,
)


class LotFilterSerializer(serializers.Serializer):
    symbol = serializers.CharField(required=False, max_length=16)
    include_closed = serializers.BooleanField(required=False, default=False)


class YearFilterSerializer(serializers.Serializer):
    year = serializers.IntegerField(required=False, min_value=1900, max_value=9999)


class LotSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaxLot
        fields = [
            "id",
            "symbol",
            "trade_id",
            "acquired_date",
            "holding_period_start",
            "price",
            "qty_original",
            "open_qty",
            "cost_basis_total",
            "wash_absorbed",
            "status",
            "parent",
        ]


class RealizedSerializer(serializers.ModelSerializer):
    adjustment_code = serializers.CharField(read_only=True)

    class Meta:
        model = RealizedGain
        fields = [
            "id",
            "symbol",
            "sale_trade_id",
            "lot_trade_id",
            "qty",
            "date_acquired",
            "date_sold",
            "proceeds",
            "cost_basis",
            "adjustment_code",
            "adjustment_amount",
            "gain_loss",
            "term",
        ]


class WashSaleSerializer(serializers.ModelSerializer):
    class Meta:
        model = WashSale
        fields = [
            "id",
            "symbol",
            "sale_trade_id",
            "lot_trade_id",
            "original_sale_date",
            "replacement_trade_id",
            "triggering_purchase_date",
            "qty",
            "disallowed_loss",
            "holding_start_before",
            "holding_start_after",
        ]


class WindowSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    closes_on = serializers.DateField(help_text="last day a purchase would still wash the loss")
    days_left = serializers.IntegerField()
    shares = serializers.DecimalField(max_digits=QTY_DIGITS, decimal_places=QTY_PLACES)
    loss_at_stake = serializers.DecimalField(max_digits=MONEY_DIGITS, decimal_places=2)


class PreviewInputSerializer(serializers.Serializer):
    symbol = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9.\-/]{0,15}$")
    side = serializers.ChoiceField(choices=["buy", "sell"])
    qty = StrictDecimalField(max_digits=QTY_DIGITS, decimal_places=QTY_PLACES, min_value=0,
                             max_value=QTY_LIMIT - QTY_QUANTUM)
    price = StrictDecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES, min_value=0,
                               max_value=PRICE_LIMIT - PRICE_QUANTUM)

    def validate_qty(self, value):
        if value <= 0:
            raise serializers.ValidationError("qty must be greater than zero")
        return value

    def validate_price(self, value):
        if value <= 0:
            raise serializers.ValidationError("price must be greater than zero")
        return value


class PreviewMatchSerializer(serializers.Serializer):
    sale_trade_id = serializers.CharField()
    date_sold = serializers.DateField()
    replacement_trade_id = serializers.CharField()
    qty = serializers.CharField()
    disallowed_loss = serializers.CharField()


class PreviewOutputSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    side = serializers.CharField()
    qty = serializers.DecimalField(max_digits=QTY_DIGITS, decimal_places=QTY_PLACES)
    would_wash = serializers.BooleanField()
    disallowed_loss = serializers.DecimalField(max_digits=MONEY_DIGITS, decimal_places=2)
    shares = serializers.DecimalField(max_digits=QTY_DIGITS, decimal_places=QTY_PLACES)
    realized_loss = serializers.DecimalField(max_digits=MONEY_DIGITS, decimal_places=2)
    window_closes = serializers.DateField(allow_null=True)
    matches = PreviewMatchSerializer(many=True)
    detail = serializers.CharField()
    method_note = serializers.CharField()
