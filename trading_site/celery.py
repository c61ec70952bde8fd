"""The Celery app.

Reliability settings live in ``settings.py`` (``CELERY_*``): late acks with reject-on-worker-lost
(tasks are idempotent, so redelivery is safe), prefetch 1, a Redis visibility timeout longer than any
task, time limits. Without ``REDIS_URL`` the broker is the atomic filesystem transport under ``var/``
(``trading_site/celery_transport.py``).

Every task runs with the system user as django-auditlog's actor.
"""

from __future__ import annotations

import os

from celery import Celery, Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading_site.settings")


class SystemActorTask(Task):
    def __call__(self, *args, **kwargs):
        # trading_site/__init__ imports this module before Django's apps are loaded
        from trading_site.audit import system_actor

        with system_actor():
            return super().__call__(*args, **kwargs)


app = Celery("trading_site", task_cls=SystemActorTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _prepare_filesystem_broker(sender, **kwargs):
    from django.conf import settings

    if sender.conf.broker_url.startswith("filesystem"):
        # trading_site/__init__ imports this module before Django's apps are loaded
        from trading_site.celery_transport import folders_prepare

        folders_prepare(settings.CELERY_FILESYSTEM_DIR)
