"""Project package: settings, URL root, Celery app, shared helpers (lib/) and platform-wide models."""

from trading_site.celery import app as celery_app

__all__ = ("celery_app",)
