"""Celery tasks of the daily workflow: thin, explicit names, idempotent (each acts only when due)."""

from __future__ import annotations

from celery import shared_task

from workflow.daily import market_close_run, market_open_check, rebalance_run
from workflow.demo import demo_day_advance
from workflow.replays import replay_execute
from workflow.schedules import due


@shared_task(name="workflow.market_open_tick", ignore_result=True, time_limit=300, soft_time_limit=270)
def market_open_tick() -> dict | None:
    if due("market_open") is None:
        return None
    return market_open_check()


RESUME_COUNTDOWNS = (60, 120, 240)  # within the schedule's 10-minute grace period


@shared_task(name="workflow.rebalance_tick", bind=True, ignore_result=True, acks_late=True, time_limit=1800,
             soft_time_limit=1700, max_retries=len(RESUME_COUNTDOWNS))
def rebalance_tick(self) -> int | None:
    """Run the rebalance of today when it is the rebalance moment; the run's unique day makes it idempotent.

    A run that failed at its submit step (broker retries exhausted) is resumed by retrying this task
    a few minutes later: the failed run is re-run in place and submits only what is missing."""

    day = due("rebalance")
    if day is None:
        return None
    run = rebalance_run(day=day)
    if run.status == "failed" and run.failed_step == "submit" and self.request.retries < len(RESUME_COUNTDOWNS):
        raise self.retry(countdown=RESUME_COUNTDOWNS[self.request.retries])
    return run.pk


@shared_task(name="workflow.market_close_tick", ignore_result=True, acks_late=True, time_limit=900, soft_time_limit=850)
def market_close_tick() -> str | None:
    day = due("market_close")
    if day is None:
        return None
    return market_close_run(day=day).day.isoformat()


@shared_task(name="workflow.demo_day_tick", ignore_result=True, time_limit=600, soft_time_limit=570)
def demo_day_tick() -> dict:
    """Demo fast mode (``DEMO_DAY_MINUTES``): advance the daily workflow on the demo clock."""

    return demo_day_advance()


@shared_task(name="workflow.replay_execute", ignore_result=True, time_limit=6 * 3600, soft_time_limit=6 * 3600 - 60)
def replay_execute_task(*, run_id: int) -> None:
    """Run a queued replay (started from the console); its progress and results go to its ReplayRun."""

    try:
        replay_execute(run_id=run_id)
    except Exception:  # stored on the run as failed (with the error); nothing to retry
        return
