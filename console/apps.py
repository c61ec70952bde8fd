from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from trading_site.demo import register_demo_step

        # the last demo step: it trades, so it runs after every app's set-up (risk limits included)
        register_demo_step("demo market: warm start", _demo_backfill)


def _demo_backfill() -> str:
    # Imported when the demo step runs, not in ready(): strategies.demo pulls in pandas, which every
    # process and manage.py command (tax_import, tax_report...) would otherwise load at start-up.
    from strategies.demo import demo_backfill

    return demo_backfill(log=print)
