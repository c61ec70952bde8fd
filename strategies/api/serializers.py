"""Input and output shapes of the strategies API (documented in the OpenAPI schema)."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from strategies.allocation import METHODS
from trading_site.api.serializers import MarketDateField, StrictDecimalField


class StrictBooleanField(serializers.BooleanField):
    """JSON true/false only: "off", "no", 0 are a type error here, not a silent False."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrategySymbolOutput(serializers.Serializer):
    symbol = serializers.CharField()
    enabled = serializers.BooleanField()


class StrategyOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    parameters = serializers.JSONField()
    enabled = serializers.BooleanField()
    capital_cap = serializers.DecimalField(max_digits=5, decimal_places=4)
    updated_at = serializers.DateTimeField()
    symbols = StrategySymbolOutput(many=True)


class StrategyUpdateInput(serializers.Serializer):
    enabled = StrictBooleanField(required=False)
    parameters = serializers.JSONField(required=False, help_text="full parameter object; validated per kind")
    capital_cap = StrictDecimalField(
        required=False,
        max_digits=5,
        decimal_places=4,
        min_value=Decimal("0.0001"),
        max_value=1,
        help_text="fraction of gross",
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")

    def validate_parameters(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be an object")
        return value

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(dict.fromkeys(sorted(unknown), "unknown field"))
        if not {"enabled", "parameters", "capital_cap"} & set(attrs):
            raise serializers.ValidationError("give at least one of enabled, parameters, capital_cap")
        return attrs


class SymbolToggleInput(serializers.Serializer):
    enabled = StrictBooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class SymbolToggleOutput(serializers.Serializer):
    strategy = serializers.CharField()
    symbol = serializers.CharField()
    enabled = serializers.BooleanField()


class SignalOutput(serializers.Serializer):
    run_id = serializers.CharField()
    strategy = serializers.CharField(source="strategy_name")
    symbol = serializers.CharField()
    session = serializers.DateField()
    score = serializers.FloatField(allow_null=True)
    target_weight = serializers.DecimalField(max_digits=12, decimal_places=9)
    created_at = serializers.DateTimeField()


class SignalListOutput(serializers.Serializer):
    run_id = serializers.CharField(allow_null=True)
    results = SignalOutput(many=True)


class SignalQuery(serializers.Serializer):
    run_id = serializers.CharField(required=False, max_length=64)
    strategy = serializers.CharField(required=False, max_length=60)


class AllocationPreviewInput(serializers.Serializer):
    method = serializers.ChoiceField(choices=METHODS)
    as_of = MarketDateField(required=False, help_text="defaults to today in New York; 1990-01-01 to a year ahead")
    gross = StrictDecimalField(
        required=False, max_digits=6, decimal_places=4, min_value=Decimal("0.0001"), max_value=4
    )


class AllocationWeightOutput(serializers.Serializer):
    symbol = serializers.CharField()
    final_weight = serializers.FloatField()
    contributing_strategies = serializers.ListField(child=serializers.CharField())


class AllocationStrategyOutput(serializers.Serializer):
    strategy = serializers.CharField()
    strategy_weight = serializers.FloatField()


class CorrelationPairOutput(serializers.Serializer):
    a = serializers.CharField()
    b = serializers.CharField()
    correlation = serializers.FloatField()


class CorrelationOutput(serializers.Serializer):
    threshold = serializers.FloatField()
    pairs = CorrelationPairOutput(many=True)
    breaches = CorrelationPairOutput(many=True)
    alert = serializers.BooleanField()


class AllocationPreviewOutput(serializers.Serializer):
    method = serializers.CharField()
    as_of = serializers.DateField()
    session = serializers.DateField(allow_null=True, help_text="latest session with data on or before as_of")
    gross = serializers.FloatField()
    cap_feasible = serializers.BooleanField()
    weights = AllocationWeightOutput(many=True)
    by_strategy = AllocationStrategyOutput(many=True)
    excluded = serializers.DictField(child=serializers.CharField())
    correlation = CorrelationOutput()
