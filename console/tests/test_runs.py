"""Rebalance runs page: per-step status, timing and errors, filters, pagination, fixed query count."""

from __future__ import annotations

import datetime as dt

import pytest

from console.tests.conftest import T0
from workflow.models import RebalanceRun, RebalanceStep

pytestmark = pytest.mark.django_db


def _run(day: dt.date, *, status: str = "completed", mode: str = "live", failed: str = "") -> RebalanceRun:
    run = RebalanceRun.objects.create(day=day, mode=mode, status=status, method="rank_aggregation", started_at=T0,
                                      finished_at=T0 + dt.timedelta(seconds=4), orders_planned=3, orders_submitted=3,
                                      failed_step=failed, error=f"no bars for {day}" if failed else "")
    for position, name in enumerate(["data", "signals", "allocation"]):
        step_failed = name == failed
        RebalanceStep.objects.create(run=run, name=name, position=position,
                                     status="failed" if step_failed else "completed", started_at=T0,
                                     duration_ms=12.5 * (position + 1), count=position * 2,
                                     error=f"no bars for {day}" if step_failed else "")
        if step_failed:
            break
    return run


def test_runs_show_steps_timing_and_errors(client, viewer):
    ok = _run(dt.date(2026, 3, 9))
    bad = _run(dt.date(2026, 3, 10), status="failed", failed="signals")
    client.force_login(viewer)
    html = client.get("/runs/").content.decode()
    assert "2 run(s)" in html and html.index(f'id="run-{bad.pk}"') < html.index(f'id="run-{ok.pk}"')
    assert 'Failed at <strong>signals</strong>: no bars for 2026-03-10' in html
    assert ('<tr data-step="allocation"><th scope="row">allocation</th><td class="ok">completed</td>'
            '<td class="num">37.5 ms</td><td class="num">4</td>') in html
    assert "orders planned 3, submitted 3, rejected 0" in html
    filtered = client.get("/runs/?status=failed").content.decode()
    assert "1 run(s)" in filtered and f'id="run-{ok.pk}"' not in filtered
    assert "0 run(s)" in client.get("/runs/?mode=replay").content.decode()


@pytest.mark.parametrize("runs", [2, 25])
def test_runs_page_query_count_is_fixed(client, viewer, django_assert_num_queries, runs):
    for i in range(runs):
        _run(dt.date(2026, 1, 1) + dt.timedelta(days=i))
    client.force_login(viewer)
    with django_assert_num_queries(6):  # session, user, groups, count, runs, steps of the page's runs
        html = client.get("/runs/").content.decode()
    assert html.count('class="card run"') == min(runs, 20)
