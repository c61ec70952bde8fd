from django.apps import AppConfig


class StrategiesConfig(AppConfig):
    name = "strategies"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from strategies.demo import demo_data_setup
        from strategies.models import Strategy, StrategySymbol
        from trading_site.demo import register_demo_step

        auditlog.register(Strategy)
        auditlog.register(StrategySymbol)
        register_demo_step("strategies: bundled market data and demo strategies", demo_data_setup)

        from strategies.schedules import schedules_register

        schedules_register()
