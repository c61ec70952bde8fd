from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: monitoring, metrics, the supervisor (``run_platform``), and the wiring of every app."""

    name = "ops"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # app registry: models and other apps load after apps.py is imported
        from ops.metrics import celery_signals_connect

        # app registry: models and other apps load after apps.py is imported
        from ops.wiring import wire

        wire()
        celery_signals_connect()  # task counters for /metrics, in every process that runs tasks
