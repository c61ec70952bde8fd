"""Risk API: one view per operation; the services enforce roles and reasons too."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from risk import selectors, services
from risk.api import serializers as s
from trading_site.lib.roles import ADMIN


class StatusView(APIView):
    @extend_schema(responses=s.StatusOutput, summary="Kill switch, breakers, limits and usage, rollout, account")
    def get(self, request):
        return Response(selectors.status_report())


class KillSwitchView(APIView):
    """Engage (operator or admin) or reset (admin) the kill switch, with a reason."""

    @extend_schema(request=s.KillSwitchInput, responses=s.KillSwitchOutput)
    def post(self, request):
        data = s.KillSwitchInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v["action"] == "engage":
            result = services.kill_switch_engage(actor=request.user, reason=v["reason"], flatten=v["flatten"])
        else:
            result = services.kill_switch_reset(actor=request.user, reason=v["reason"])
        return Response(s.KillSwitchOutput(result).data)


class BreakerResetView(APIView):
    write_role = ADMIN

    @extend_schema(request=s.ReasonInput, responses={204: None})
    def post(self, request, name: str):
        data = s.ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.breaker_reset(actor=request.user, name=name, reason=data.validated_data["reason"])
        return Response(status=204)


class LimitsView(APIView):
    write_role = ADMIN

    @extend_schema(responses=None, summary="Current risk limits")
    def get(self, request):
        return Response(selectors.limits_current())

    @extend_schema(request=s.LimitsInput, responses=None, summary="Change limits (admin, reason required)")
    def patch(self, request):
        data = s.LimitsInput(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        reason = changes.pop("reason")
        diff = services.limits_update(actor=request.user, reason=reason, changes=changes)
        return Response({"changed": diff})


class RolloutView(APIView):
    write_role = ADMIN

    @extend_schema(responses=None)
    def get(self, request):
        return Response(selectors.rollout_status())

    @extend_schema(request=s.RolloutInput, responses=None, summary="Set the rollout phase (admin)")
    def post(self, request):
        data = s.RolloutInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        services.rollout_phase_set(actor=request.user, phase=v["phase"], reason=v["reason"], on_paper=v["on_paper"])
        return Response(selectors.rollout_status())


class RolloutPhaseView(APIView):
    write_role = ADMIN

    @extend_schema(request=s.RolloutPhaseInput, responses=None, summary="Adjust a phase's cap or symbols (admin)")
    def patch(self, request, number: int):
        data = s.RolloutPhaseInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        services.rollout_phase_define(actor=request.user, number=number, reason=v["reason"],
                                      capital_cap=v.get("capital_cap"), symbols=v.get("symbols"))
        return Response(selectors.rollout_status())


class PositionRiskView(APIView):
    @extend_schema(request=s.PositionRiskInput, responses=None, summary="Per-position stop overrides")
    def put(self, request, symbol: str):
        data = s.PositionRiskInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        row = services.position_risk_set(
            actor=request.user, symbol=symbol, reason=v["reason"], stop_loss_pct=v["stop_loss_pct"],
            take_profit_pct=v["take_profit_pct"], trailing_stop_pct=v["trailing_stop_pct"], disabled=v["disabled"],
        )
        return Response({
            "symbol": row.symbol,
            "stop_loss_pct": None if row.stop_loss_pct is None else str(row.stop_loss_pct),
            "take_profit_pct": None if row.take_profit_pct is None else str(row.take_profit_pct),
            "trailing_stop_pct": None if row.trailing_stop_pct is None else str(row.trailing_stop_pct),
            "disabled": row.disabled,
        })
