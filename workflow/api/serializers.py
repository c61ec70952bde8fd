"""Serializers of the workflow and performance endpoints."""

from __future__ import annotations

from rest_framework import serializers

from trading_site.api.serializers import MarketDateField


class PerformanceQuery(serializers.Serializer):
    start = MarketDateField(required=False)
    end = MarketDateField(required=False)
    window = serializers.IntegerField(required=False, min_value=5, max_value=756, default=63)

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["start"] > attrs["end"]:
            raise serializers.ValidationError({"start": "start must not be after end"})
        return attrs


class BenchmarkMetricsOutput(serializers.Serializer):
    total_return = serializers.FloatField(allow_null=True)


class MetricsOutput(serializers.Serializer):
    start_equity = serializers.FloatField(allow_null=True)
    end_equity = serializers.FloatField(allow_null=True)
    days = serializers.IntegerField()
    total_return = serializers.FloatField(allow_null=True)
    cagr = serializers.FloatField(allow_null=True)
    volatility = serializers.FloatField(allow_null=True)
    sharpe = serializers.FloatField(allow_null=True)
    sortino = serializers.FloatField(allow_null=True)
    max_drawdown = serializers.FloatField(allow_null=True)
    turnover = serializers.FloatField(allow_null=True)
    commissions = serializers.FloatField()
    trades = serializers.IntegerField()


class PerformanceDayOutput(serializers.Serializer):
    date = serializers.DateField()
    equity = serializers.FloatField()
    pnl = serializers.FloatField(allow_null=True)
    cumulative_return = serializers.FloatField(allow_null=True)
    drawdown = serializers.FloatField(allow_null=True)
    rolling_sharpe = serializers.FloatField(allow_null=True)


class PerformanceOutput(serializers.Serializer):
    metrics = MetricsOutput()
    risk_free_rate = serializers.FloatField()
    rolling_window = serializers.IntegerField()
    days = PerformanceDayOutput(many=True)


class RebalanceStepOutput(serializers.Serializer):
    name = serializers.CharField()
    position = serializers.IntegerField()
    status = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_ms = serializers.FloatField(allow_null=True)
    count = serializers.IntegerField()
    detail = serializers.JSONField()
    error = serializers.CharField()


class RebalanceRunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    day = serializers.DateField()
    mode = serializers.CharField()
    status = serializers.CharField()
    method = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    attempts = serializers.IntegerField()
    orders_planned = serializers.IntegerField()
    orders_submitted = serializers.IntegerField()
    orders_rejected = serializers.IntegerField()
    failed_step = serializers.CharField()
    error = serializers.CharField()
    steps = RebalanceStepOutput(many=True)


class RebalanceRunQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=["running", "completed", "failed"], required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, default=30)
