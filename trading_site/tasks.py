"""Platform tasks (thin: each calls one service)."""

from celery import shared_task

from trading_site.health import heartbeat_record


@shared_task(name="platform.heartbeat", ignore_result=True)
def heartbeat() -> None:
    heartbeat_record(name="worker")
