"""Browser tests: Playwright drives Debian's headless Chromium against pytest-django's live server.

Playwright's sync API runs an event loop in this thread, so Django's async-safety guard must be off
for these tests only: set for each browser module and restored afterwards. The test database is set
up before Playwright starts its loop (the fixture below depends on ``django_db_setup``).
"""

from __future__ import annotations

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
