"""Browser tests: Playwright drives Debian's headless Chromium against pytest-django's live server.

Playwright's sync API runs an event loop in this thread, so Django's async-safety guard must be off
for these tests only: set for each browser module and restored afterwards. The test database is set
up before Playwright starts its loop (the fixture below depends on ``django_db_setup``).
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module", autouse=True)
def _allow_async_unsafe(django_db_setup, django_db_blocker):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture
def screenshot_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def login(page, live_server, username: str, password: str = "correct-horse-battery") -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill('input[name="login"]', username)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')


DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "RUNBOOKS" / "img"


@pytest.fixture
def guide_img() -> Path:
    """Where the console browser tests save the user guide's screenshots.

    A normal run writes them to test-artifacts/guide/ so running the suite never modifies tracked
    files; ``UPDATE_GUIDE_SCREENSHOTS=1 make test`` refreshes docs/RUNBOOKS/img/ for a docs commit.
    """
    target = DOCS_IMG if os.environ.get("UPDATE_GUIDE_SCREENSHOTS") == "1" else ARTIFACTS / "guide"
    target.mkdir(parents=True, exist_ok=True)
    return target


@contextlib.contextmanager
def trade_stream(broker):
    """The trade-stream process's loop, in a thread beside the live server: fills reach the ledger after
    the order call returned, as production delivers them (the suite's delivery mode is the stream)."""
    from django.db import connection

    from orders.stream import OutboxStreamRunner

    stop = threading.Event()

    def run() -> None:
        try:
            OutboxStreamRunner(broker, poll_seconds=0.1).run_forever(stop)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="trade-stream", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def wait_filled(*orders, timeout: float = 10.0) -> None:
    """Wait until the trade stream has booked each order's fill (fills arrive after the order call)."""
    import time

    from orders.models import Order

    ids = [o.pk for o in orders]
    deadline = time.monotonic() + timeout
    while Order.objects.filter(pk__in=ids).exclude(status="filled").exists():
        assert time.monotonic() < deadline, f"orders {ids} not filled within {timeout}s"
        time.sleep(0.1)


@pytest.fixture
def console_market(settings, db):
    """The console's world for browser tests (as the console tests'): the simulated exchange always open with
    frictionless fills, AAPL at 100 and MSFT at 200, the risk defaults, and fresh risk/quote caches and rate
    counters; a trade stream delivers the exchange's fills."""
    from console.tests.conftest import market_seed, simulated_exchange

    with simulated_exchange(settings) as broker:
        market_seed()
        with trade_stream(broker):
            yield broker


def csrf_post(page, url: str, form: dict):
    """POST from the logged-in browser session with the page's CSRF token (as htmx sends it)."""
    import json

    token = json.loads(page.locator("body").get_attribute("hx-headers"))["X-CSRFToken"]
    return page.request.post(url, form=form, headers={"X-CSRFToken": token}, max_redirects=0)
