from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from strategies.demo import demo_backfill
        from trading_site.demo import register_demo_step

        # the last demo step: it trades, so it runs after every app's set-up (risk limits included)
        register_demo_step("demo market: warm start", lambda: demo_backfill(log=print))
