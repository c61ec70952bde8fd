"""Input/output serializers of the risk API."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from trading_site.api.serializers import StrictDecimalField
from trading_site.lib.money import MONEY_DIGITS, MONEY_PLACES

REASON = {"max_length": 2000, "allow_blank": False, "trim_whitespace": True}


def _pct(**kwargs) -> serializers.DecimalField:
    return StrictDecimalField(
        max_digits=8, decimal_places=6, min_value=Decimal("0.000001"), max_value=Decimal("0.999999"), **kwargs
    )


def _money(**kwargs) -> serializers.DecimalField:
    return StrictDecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, min_value=Decimal("0.01"), **kwargs
    )


class KillSwitchInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=["engage", "reset"])
    reason = serializers.CharField(**REASON)
    flatten = serializers.BooleanField(required=False, allow_null=True, default=None,
                                       help_text="engage only; default: the kill_switch_flatten limit")


class KillSwitchOutput(serializers.Serializer):
    engaged = serializers.BooleanField()
    changed = serializers.BooleanField()
    cancelled = serializers.IntegerField()
    flatten_orders = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.CharField())


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(**REASON)


class LimitsInput(serializers.Serializer):
    reason = serializers.CharField(**REASON)
    max_order_notional = _money(required=False)
    max_position_notional = _money(required=False)
    max_gross_exposure = _money(required=False)
    price_band_pct = _pct(required=False)
    orders_per_minute = serializers.IntegerField(min_value=1, max_value=10000, required=False)
    broker_requests_per_minute = serializers.IntegerField(min_value=1, max_value=10000, required=False)
    daily_loss_pct = _pct(required=False)
    max_drawdown_pct = _pct(required=False)
    daily_loss_auto_reset = serializers.BooleanField(required=False)
    stale_data_sessions = serializers.IntegerField(min_value=0, max_value=20, required=False)
    stop_loss_pct = _pct(required=False)
    take_profit_pct = _pct(required=False)
    trailing_stop_pct = _pct(required=False, allow_null=True)
    allow_extended_hours = serializers.BooleanField(required=False)
    kill_switch_flatten = serializers.BooleanField(required=False)
    pdt_rule_enabled = serializers.BooleanField(required=False)
    pdt_equity_threshold = _money(required=False)
    symbol_denylist = serializers.ListField(
        child=serializers.RegexField(r"^[A-Za-z.\-]{1,16}$"), required=False, max_length=500
    )
    rollout_on_paper = serializers.BooleanField(required=False)


class RolloutInput(serializers.Serializer):
    phase = serializers.IntegerField(min_value=1, max_value=4, allow_null=True)
    reason = serializers.CharField(**REASON)
    on_paper = serializers.BooleanField(required=False, allow_null=True, default=None)


class RolloutPhaseInput(serializers.Serializer):
    reason = serializers.CharField(**REASON)
    capital_cap = _money(required=False)
    symbols = serializers.ListField(child=serializers.RegexField(r"^[A-Za-z.\-]{1,16}$"), required=False,
                                    max_length=500)


class PositionRiskInput(serializers.Serializer):
    reason = serializers.CharField(**REASON)
    stop_loss_pct = _pct(required=False, allow_null=True, default=None)
    take_profit_pct = _pct(required=False, allow_null=True, default=None)
    trailing_stop_pct = _pct(required=False, allow_null=True, default=None)
    disabled = serializers.BooleanField(required=False, default=False)


class StatusOutput(serializers.Serializer):
    time = serializers.DateTimeField()
    kill_switch = serializers.DictField()
    breakers = serializers.ListField(child=serializers.DictField())
    equity = serializers.DictField(allow_null=True)
    limits = serializers.DictField()
    usage = serializers.DictField()
    rollout = serializers.DictField()
    market_clock = serializers.DictField()
    account = serializers.DictField()
    events = serializers.ListField(child=serializers.DictField())
