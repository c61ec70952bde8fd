"""Celery tasks of the daily workflow: thin, explicit names, idempotent (each acts only when due)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="strategies.market_open_tick", ignore_result=True, time_limit=300, soft_time_limit=270)
def market_open_tick() -> dict | None:
    from strategies.schedules import due
    from strategies.workflow import market_open_check

    if due("market_open") is None:
        return None
    return market_open_check()


@shared_task(name="strategies.rebalance_tick", ignore_result=True, acks_late=True, time_limit=1800, soft_time_limit=1700)
def rebalance_tick() -> int | None:
    """Run the rebalance of today when it is the rebalance moment; the run's unique day makes it idempotent."""
    from strategies.schedules import due
    from strategies.workflow import rebalance_run

    day = due("rebalance")
    if day is None:
        return None
    return rebalance_run(day=day).pk


@shared_task(name="strategies.market_close_tick", ignore_result=True, acks_late=True, time_limit=900, soft_time_limit=850)
def market_close_tick() -> str | None:
    from strategies.schedules import due
    from strategies.workflow import market_close_run

    day = due("market_close")
    if day is None:
        return None
    return market_close_run(day=day).day.isoformat()


@shared_task(name="strategies.replay_execute", ignore_result=True, time_limit=6 * 3600, soft_time_limit=6 * 3600 - 60)
def replay_execute_task(*, run_id: int) -> None:
    """Run a queued replay (started from the console); its progress and results go to its ReplayRun."""
    from strategies.replays import replay_execute

    try:
        replay_execute(run_id=run_id)
    except Exception:  # stored on the run as failed (with the error); nothing to retry
        return
