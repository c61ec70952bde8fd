from django.apps import AppConfig


class StrategiesConfig(AppConfig):
    name = "strategies"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        # app registry: models and other apps load after apps.py is imported
        from strategies.models import Strategy, StrategySymbol

        auditlog.register(Strategy)
        auditlog.register(StrategySymbol)
