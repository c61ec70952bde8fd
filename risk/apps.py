from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "risk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Pre-trade checks, the fill listener, beat entries and the demo step: ops/wiring.py.
        from auditlog.registry import auditlog

        # app registry: models and other apps load after apps.py is imported
        from risk.models import CircuitBreaker, KillSwitch, PositionRisk, RiskLimits, RolloutPhase

        for model in (RiskLimits, RolloutPhase, PositionRisk, KillSwitch, CircuitBreaker):
            auditlog.register(model)
