"""Output shapes of the market-data API (documented in the OpenAPI schema)."""

from __future__ import annotations

from rest_framework import serializers

from trading_site.api.serializers import MarketDateField


class BarQuery(serializers.Serializer):
    start = MarketDateField(required=False)
    end = MarketDateField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=5000, default=250)

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["start"] > attrs["end"]:
            raise serializers.ValidationError({"start": "must not be after end"})
        return attrs


class BarOutput(serializers.Serializer):
    session = serializers.DateField()
    open = serializers.DecimalField(max_digits=20, decimal_places=6)
    high = serializers.DecimalField(max_digits=20, decimal_places=6)
    low = serializers.DecimalField(max_digits=20, decimal_places=6)
    close = serializers.DecimalField(max_digits=20, decimal_places=6)
    volume = serializers.DecimalField(max_digits=20, decimal_places=9, allow_null=True)


class BarListOutput(serializers.Serializer):
    symbol = serializers.CharField()
    bars = BarOutput(many=True)
