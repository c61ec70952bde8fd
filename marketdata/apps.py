from django.apps import AppConfig


class MarketDataConfig(AppConfig):
    """Assets, raw daily bars, corporate actions, their providers and gates, and the market clock."""

    name = "marketdata"
    verbose_name = "Market data"
    default_auto_field = "django.db.models.BigAutoField"
