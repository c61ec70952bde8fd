"""Console replays: viewers read reports, operators start replays (a Celery task on commit); the
report shows the stored figures, its charts' data and the trades; bad input stores nothing."""

from __future__ import annotations

import json

import pytest

from console import charts
from strategies.services import strategy_create
from workflow.models import ReplayRun
from workflow.replays import replay_execute, run_json

START = {"start": "2010-11-01", "end": "2010-12-31", "strategies": "sma", "symbols": "", "capital": "50000",
         "reason": "tuning"}


@pytest.fixture
def replay_market(small_market):
    strategy_create(actor=None, name="sma", kind="sma_crossover", parameters={"fast": 5, "slow": 20},
                    symbols=["AAPL", "IBM", "MSFT", "GOOG"], reason="test")


def test_a_viewer_reads_replays_but_cannot_start_one(client, viewer, replay_market):
    client.force_login(viewer)
    page = client.get("/replays/")
    assert page.status_code == 200 and 'id="replay-start"' not in page.content.decode()
    assert client.post("/replays/start/", START).status_code == 403
    assert ReplayRun.objects.count() == 0


@pytest.mark.parametrize("field,value", [("start", "2010-13-01"), ("capital", "1_0"), ("strategies", "nope"),
                                         ("reason", "")])
def test_bad_start_input_is_a_400_and_stores_nothing(client, operator, replay_market, field, value):
    client.force_login(operator)
    response = client.post("/replays/start/", {**START, field: value})
    assert response.status_code == 400
    assert ReplayRun.objects.count() == 0


@pytest.mark.slow  # over 1.5 s here: kept out of make test-fast
def test_an_operator_starts_a_replay_and_opens_its_report(client, operator, replay_market,
                                                           django_capture_on_commit_callbacks):
    client.force_login(operator)
    assert 'id="replay-start"' in client.get("/replays/").content.decode()
    # when the operator starts a replay: it is stored as queued and its task is sent after the commit
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/replays/start/", START)
    run = ReplayRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/replays/{run.pk}/"
    assert run.status == "queued" and run.started_by == operator and len(callbacks) == 1
    assert json.loads(client.get(f"/replays/{run.pk}/progress/").content)["status"] == "queued"
    # the worker runs it (here the task's body, replay_execute, in-process: the Celery round trip is
    # not what this test is about)
    replay_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "completed" and run.orders > 0
    progress = json.loads(client.get(f"/replays/{run.pk}/progress/").content)
    assert progress["percent"] == 100.0 and progress["done"] == progress["total"] == 43
    # then the report shows the stored figures, the charts' data and the trades
    html = client.get(f"/replays/{run.pk}/").content.decode()
    assert f'id="final-equity">{run.final_equity}<' in html and f'id="realized-pnl">{run.realized_pnl}<' in html
    assert 'id="chart-equity"' in html and 'id="replay-charts"' in html and "replay-report.js" in html
    assert html.count("<tr><td>2010-") >= run.orders  # one trades-table row per order (plus months)
    assert "2010-11" in html and "2010-12" in html
    # monthly returns and the per-strategy attribution are charts too (static/js/charts.js draws them)
    assert 'data-chart="chart-monthly"' in html and 'data-chart="chart-attribution"' in html
    # the JSON download is the stored run; comparing it with itself lists both columns
    data = json.loads(client.get(f"/replays/{run.pk}/json/").content)
    assert data == json.loads(json.dumps(run_json(run)))
    assert client.get(f"/replays/compare/?a={run.pk}&b={run.pk}").status_code == 200
    assert client.get("/replays/compare/?a=x&b=1").status_code == 400
    assert client.get("/replays/999999/").status_code == 404


def test_monthly_returns_chart_is_one_bar_per_month_in_percent():
    spec = charts.monthly_returns([{"month": "2010-11", "return": 0.01234}, {"month": "2010-12", "return": -0.005}])
    assert spec["kind"] == "bar" and spec["labels"] == ["2010-11", "2010-12"] and spec["y_label"] == "%"
    assert spec["series"][0]["values"] == [1.234, -0.5]
    assert charts.monthly_returns([]) is None
