from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders & execution"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The beat entries, health checks and demo step of this app are wired in ops/wiring.py.
        from orders import tasks  # noqa: F401  (connects the worker start-up reconciliation)
