"""Template context shared by every page."""

from django.conf import settings


def platform_context(request) -> dict:
    return {
        "broker_name": settings.BROKER,
        "sim_always_open": settings.BROKER == "simulated" and settings.SIM_MARKET_HOURS == "always",
        "django_env": settings.DJANGO_ENV,
    }
