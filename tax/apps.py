from django.apps import AppConfig


class TaxConfig(AppConfig):
    name = "tax"
    verbose_name = "Tax lots and compliance"
    default_auto_field = "django.db.models.BigAutoField"
    # The fill listener, the wash-sale check and the beat entries are wired in ops/wiring.py.
