"""Replays from the console in headless Chromium (issue 18): an operator starts one with the form, a real
Celery worker runs it, the page's progress bar moves to 100 % showing the percentage and the time left,
then the page opens the report with its charts drawn (equity against the benchmark, drawdown, monthly
returns, per-strategy attribution) and the trades table; a viewer reads it but cannot start one."""

from __future__ import annotations

import contextlib
import math
import re
import time
from decimal import Decimal

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser.conftest import csrf_post, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Ten months of the 2010 panel: about 210 sessions, a few seconds of replay. The worker writes the
# progress to the run's row once a second and the page polls it once a second, so the run has to last
# a few seconds for the page to show a state between 0 and 100 % (two months take under 1.5 s).
START = {"start": "2010-03-01", "end": "2010-12-31", "strategies": "sma-fast, sma-slow", "symbols": "",
         "capital": "50000", "reason": "tuning the crossovers"}
PROGRESS = re.compile(r"^(\d+\.\d)% · (\d+):(\d\d) left$")

STATE_JS = """() => {
  const box = document.getElementById('replay-progress');
  return {percent: box.querySelector('progress').value, text: box.querySelector('.progress-text').textContent.trim(),
          status: box.getAttribute('data-status'), report: !!document.getElementById('replay-figures'),
          watched: window.__watched === true};
}"""

# The report's four charts: the uPlot instance each keeps on its element (static/js/replay-report.js
# draws equity and drawdown into <div id=ID>, static/js/charts.js the bars into <div data-chart=ID>
# beside the <script id=ID> of their data), its axes, canvas and non-null data points.
REPORT_CHARTS = ["chart-equity", "chart-drawdown", "chart-monthly", "chart-attribution"]
CHARTS_JS = """ids => ids.map(id => document.querySelector(`[data-chart='${id}']`) || document.getElementById(id))
  .map((el, i) => ({
    id: ids[i],
    drawn: !!(el && el.uplot),
    axes: el ? el.querySelectorAll('.u-axis').length : 0,
    canvas: el ? el.querySelectorAll('canvas').length : 0,
    series: el && el.uplot ? el.uplot.data.length - 1 : 0,
    points: el && el.uplot ? el.uplot.data.slice(1).reduce((n, s) => n + s.filter(v => v !== null).length, 0) : 0,
    clear: !(el && el.uplot) || (() => {  // the plot, its title and legend end above the next heading
      let next = el.nextElementSibling;
      while (next && next.tagName !== 'H2') { next = next.nextElementSibling; }
      return !next || el.uplot.root.getBoundingClientRect().bottom <= next.getBoundingClientRect().top;
    })(),
  }))"""


@pytest.fixture
def replay_market(small_market):
    """The 2010 panel (AAPL, IBM, MSFT, GOOG), the S&P 500 index's closes over it (the report's
    benchmark) and two SMA crossovers trading the four stocks (two rows of attribution)."""
    from marketdata.bundled import BENCHMARK_SYMBOL
    from marketdata.models import Asset, Bar
    from marketdata.quality import nyse_calendar
    from strategies.services import strategy_create

    spx = Asset.objects.create(symbol=BENCHMARK_SYMBOL, name="S&P 500 index", tradable=False)
    sessions = nyse_calendar().sessions_in_range("2010-01-04", "2010-12-31")
    Bar.objects.bulk_create(
        Bar(asset=spx, session=s.date(), open=p, high=p, low=p, close=p, source="index")
        for i, s in enumerate(sessions)
        for p in [Decimal(str(round(1100 + 60 * math.sin(i / 20) + 0.4 * i, 2)))]
    )
    for name, fast, slow in (("sma-fast", 5, 20), ("sma-slow", 10, 30)):
        strategy_create(actor=None, name=name, kind="sma_crossover", parameters={"fast": fast, "slow": slow},
                        symbols=["AAPL", "IBM", "MSFT", "GOOG"], reason="test")


@contextlib.contextmanager
def reports_worker(log_dir):
    """A Celery worker process consuming the ``reports`` queue, as production runs it.

    A process (tests/processes.py), not ``celery.contrib.testing.worker.start_worker`` in a thread: the
    message goes through Redis from the live server to another process, which runs the task with its own
    database connection to the test database (hence the transactional test: the run the live server
    stored is committed and visible to it) and its own replay store, exactly as in production, and the
    replay's swap of its thread's ``default`` connection (workflow/replay_store.py) cannot touch the
    live server or the test's connections. Stale messages a crashed earlier run may have left in this
    Redis database's queue are purged first. ``--without-mingle/gossip`` only skip the start-up chatter
    with other workers (there are none); delivery and execution are the production ones.
    """
    from tests.processes import celery_command, child_env, running
    from trading_site.celery import app
    from trading_site.lib import queues

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queues.REPORTS)
    command = celery_command("worker", "-Q", queues.REPORTS, "--concurrency", "1", "--without-mingle",
                             "--without-gossip", "--loglevel", "INFO")
    with running({"worker": command}, child_env(), log_dir) as procs:
        yield procs["worker"]


def _watch_progress(page, worker, log_dir, *, timeout: float) -> tuple[list[dict], dict]:
    """Read the progress box from the DOM every 50 ms (the page changes it once a second) until the page
    shows the report. Returns the distinct states seen before and the report page's state."""
    from tests.processes import log_tail

    page.evaluate("window.__watched = true")  # gone once the page reloads itself into the report
    states: list[dict] = []
    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, f"no report within {timeout}s; seen {states}\n{log_tail(log_dir, 'worker')}"
        assert worker.poll() is None, f"the worker exited\n{log_tail(log_dir, 'worker')}"
        try:
            state = page.evaluate(STATE_JS)
        except PlaywrightError:  # the page is reloading: its context was destroyed mid-call
            continue
        if state["report"]:
            return states, state
        if not states or (states[-1]["percent"], states[-1]["text"]) != (state["percent"], state["text"]):
            states.append(state)
        time.sleep(0.05)


def _report_charts(page) -> dict:
    # a function, not an expression string: Playwright evals the latter, which the page's CSP forbids
    try:
        page.wait_for_function(f"ids => ({CHARTS_JS})(ids).every(c => c.drawn)", arg=REPORT_CHARTS, timeout=5000)
    except PlaywrightError as exc:
        raise AssertionError(page.evaluate(CHARTS_JS, REPORT_CHARTS)) from exc
    return {c["id"]: c for c in page.evaluate(CHARTS_JS, REPORT_CHARTS)}


def _assert_report(page, run) -> None:
    """The report's figures, its four charts drawn with data points, and one trades-table row per trade."""
    assert page.locator("#final-equity").inner_text() == str(run.final_equity)
    charts = _report_charts(page)
    for chart in charts.values():
        assert chart["drawn"] and chart["canvas"] >= 1 and chart["axes"] >= 2 and chart["clear"], chart
    sessions = len(run.equity_curve)
    assert charts["chart-equity"]["series"] == 2  # equity and the benchmark
    assert charts["chart-equity"]["points"] == sessions + len(run.benchmark_curve) and len(run.benchmark_curve) == sessions
    assert charts["chart-drawdown"]["points"] == sessions
    months = len({p["date"][:7] for p in run.equity_curve})
    assert charts["chart-monthly"]["points"] == months == page.locator("#monthly tbody tr").count()
    assert charts["chart-attribution"]["points"] == 2 == page.locator("#attribution tbody tr").count()
    assert page.locator("#trades tbody tr").count() == len(run.trades) > 0  # a TWAP is one row, many orders


@pytest.mark.worker  # a Celery worker process
def test_an_operator_starts_a_replay_a_worker_runs_it_and_the_page_opens_its_report(
        page, live_server, make_user, replay_market, tmp_path, guide_img):
    from workflow.models import ReplayRun

    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    operator = make_user("olivia", "operator")
    with reports_worker(tmp_path) as worker:
        page.set_viewport_size({"width": 1280, "height": 900})
        login(page, live_server, "olivia")
        page.wait_for_url(f"{live_server.url}/")
        page.goto(f"{live_server.url}/replays/")
        assert page.locator("#replays").inner_text().count("No replay yet.") == 1
        form = page.locator("#replay-start")
        for field, value in START.items():
            form.locator(f'[name="{field}"]').fill(value)
        form.locator('button[type="submit"]').click()
        page.wait_for_url(re.compile(r"/replays/\d+/$"))
        run = ReplayRun.objects.get()
        assert page.url == f"{live_server.url}/replays/{run.pk}/"
        assert run.started_by == operator and run.parameters["strategies"] == ["sma-fast", "sma-slow"]
        assert page.locator("#replay-figures").count() == 0  # no report yet: the progress box only
        states, final = _watch_progress(page, worker, tmp_path, timeout=60)
    run.refresh_from_db()
    assert run.status == "completed", run.error
    # the progress bar moved up through the run, showing the percentage and the time left
    moving = [s for s in states if 0 < s["percent"] < 100]
    assert moving, states
    assert [s["percent"] for s in states] == sorted(s["percent"] for s in states), states
    for s in moving:
        m = PROGRESS.match(s["text"])
        assert m and float(m[1]) == pytest.approx(s["percent"]), s
    assert any(int(PROGRESS.match(s["text"])[2]) * 60 + int(PROGRESS.match(s["text"])[3]) > 0 for s in moving), states
    # then the page reloaded itself into the report, the bar full
    assert final["watched"] is False and final["status"] == "completed"
    assert final["percent"] == 100 and final["text"] == "100.0% · 0:00 left"
    assert page.url == f"{live_server.url}/replays/{run.pk}/"
    _assert_report(page, run)
    assert page.locator("#monthly tbody tr").count() == 10  # March to December
    page.screenshot(path=str(guide_img / "replay-report.png"), full_page=True,
                    clip={"x": 0, "y": 0, "width": 1280, "height": 1600})  # the figures and the charts
    assert errors == []


def test_a_viewer_reads_a_replay_but_cannot_start_one(page, live_server, make_user, replay_market):
    from workflow.models import ReplayRun
    from workflow.replays import replay_create, replay_execute

    operator = make_user("olivia", "operator")
    make_user("victor", "viewer")
    # an operator's replay, run here by the task's body (the worker's round trip is the test above)
    run = replay_create(actor=operator, **{**START, "start": "2010-11-01"})  # two months: quicker
    run = replay_execute(run_id=run.pk)
    assert run.status == "completed", run.error
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, live_server, "victor")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/replays/")
    row = page.locator(f'#replays tr[data-replay="{run.pk}"]')
    assert row.locator("td").nth(4).inner_text() == "completed"
    assert page.locator("#replay-start").count() == 0 and page.get_by_text("Start a replay").count() == 0
    row.get_by_role("link", name=f"#{run.pk}").click()
    page.wait_for_url(f"{live_server.url}/replays/{run.pk}/")
    assert page.locator("#replay-progress progress").evaluate("el => el.value") == 100
    _assert_report(page, run)
    # a start sent anyway is refused and stores nothing
    response = csrf_post(page, f"{live_server.url}/replays/start/", {**START, "reason": "sneaky"})
    assert response.status == 403
    assert list(ReplayRun.objects.values_list("pk", flat=True)) == [run.pk]
    assert errors == []
