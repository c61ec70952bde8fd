"""Browser tests: Playwright drives Debian's headless Chromium against pytest-django's live server.

Playwright's sync API runs an event loop in this thread, so Django's async-safety guard must be off
for these tests only: set for each browser module and restored afterwards. The test database is set
up before Playwright starts its loop (the fixture below depends on ``django_db_setup``).
"""

from __future__ import annotations

import os
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


@pytest.fixture
def console_market(settings, db):
    """The console's world for browser tests (as the console tests'): the simulated exchange always open with
    frictionless fills, AAPL at 100 and MSFT at 200, the risk defaults, and fresh risk/quote caches and rate
    counters."""
    from console.tests.conftest import market_seed, simulated_exchange

    with simulated_exchange(settings) as broker:
        market_seed()
        yield broker


def csrf_post(page, url: str, form: dict):
    """POST from the logged-in browser session with the page's CSRF token (as htmx sends it)."""
    import json

    token = json.loads(page.locator("body").get_attribute("hx-headers"))["X-CSRFToken"]
    return page.request.post(url, form=form, headers={"X-CSRFToken": token}, max_redirects=0)
