from django.apps import AppConfig


class TradingSiteConfig(AppConfig):
    name = "trading_site"
    verbose_name = "Platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from auditlog.registry import auditlog
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        # User and group changes are diffed by django-auditlog (passwords never logged).
        auditlog.register(get_user_model(), exclude_fields=["password", "last_login"])
        auditlog.register(Group)
