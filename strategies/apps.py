from django.apps import AppConfig


class StrategiesConfig(AppConfig):
    name = "strategies"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from strategies.models import Strategy, StrategySymbol
        from trading_site.demo import register_demo_step

        auditlog.register(Strategy)
        auditlog.register(StrategySymbol)
        register_demo_step("strategies: bundled market data and demo strategies", _demo_data_setup)

        from strategies.schedules import schedules_register

        schedules_register()


def _demo_data_setup() -> str:
    # Imported when the demo step runs, not at start-up: strategies.demo pulls in pandas (through
    # demo_market and services), ~0.5 s and ~60 MB that every process and manage.py command (tax_import,
    # tax_report...) would otherwise pay in AppConfig.ready() without ever running a demo step.
    from strategies.demo import demo_data_setup

    return demo_data_setup()
