from django.apps import AppConfig


class TaxConfig(AppConfig):
    name = "tax"
    default_auto_field = "django.db.models.BigAutoField"
