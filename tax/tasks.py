"""Thin Celery tasks: each calls one service and is idempotent (stored exports are replaced)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from tax.exports import blotter_store, compliance_store
from tax.services import splits_sync
from trading_site.lib import clock


@shared_task(name="tax.blotter_daily", ignore_result=True, time_limit=300, soft_time_limit=240)
def blotter_daily(day: str | None = None) -> str:
    """After the close: apply due market-data splits, then store the day's blotter CSV."""

    target = dt.date.fromisoformat(day) if day else clock.today_ny()
    splits_sync(upto=target)
    return blotter_store(day=target).filename


@shared_task(name="tax.compliance_monthly", ignore_result=True, time_limit=300, soft_time_limit=240)
def compliance_monthly(month: str | None = None) -> str:
    """On the 1st: store the previous month's compliance report."""

    if month is None:
        first = clock.today_ny().replace(day=1)
        month = f"{first - dt.timedelta(days=1):%Y-%m}"
    return compliance_store(month=month).filename
