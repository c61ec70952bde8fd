"""Root fixtures shared by every app's tests and the cross-app tests in tests/."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tests import scheduling
from tests.fresh_database import database_steps_run
from trading_site.accounts import roles_ensure
from trading_site.lib import roles

# Market-data fixtures (bundled datasets, small hand-made price panels) for every app's tests.
pytest_plugins = ["marketdata.tests.fixtures"]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_use_migrations, django_db_blocker):
    """A test database built from the models (``--no-migrations``: ``make test-fast``) gets the
    migrations' database work its schema lacks: triggers, seeded rows (tests/fresh_database.py)."""
    if not django_db_use_migrations:
        with django_db_blocker.unblock():
            database_steps_run()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright: use Debian's chromium (Playwright cannot download browsers here)."""
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}


def _make_user(username: str, role: str | None):
    User = get_user_model()
    is_admin = role == roles.ADMIN  # as trading_site.accounts.user_create: admins are staff + superuser
    user = User.objects.create_user(
        username=username, password="correct-horse-battery", is_staff=is_admin, is_superuser=is_admin
    )
    if role:
        user.groups.add(roles_ensure()[role])
    return user


@pytest.fixture
def make_user(db):
    return _make_user


@pytest.fixture
def viewer(db):
    return _make_user("viewer1", roles.VIEWER)


@pytest.fixture
def operator(db):
    return _make_user("operator1", roles.OPERATOR)


@pytest.fixture
def admin_user(db):
    return _make_user("admin1", roles.ADMIN)


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def api_as():
    """``api_as(user)`` → an APIClient authenticated as that user."""

    def factory(user):
        client = APIClient()
        client.force_authenticate(user=user)
        return client

    return factory


# pytest-xdist. Each worker has its own database, Redis database and VAR_DIR
# (trading_site/settings_test.py), and process tests take free ports, tmp_path folders and private Redis
# databases (tests/processes.py), so any test can run on any worker. `make test` hands the process tests
# to waiting lanes of their own, longest first, and the rest to the other workers in collection order
# (tests/scheduling.py, hooks below); `make test-fast` uses plain ``--dist load``. Browser tests come
# last either way, so a worker that gets one gets nothing but browser tests after it. (Not --dist
# loadgroup: xdist 3.8 marks a group by rewriting ``item._nodeid``, which pytest 9 no longer reads, and
# both loadgroup and loadscope hand out work by node id, so schemathesis's items, which share one node
# id, would run once.)


def _is_browser(item) -> bool:
    return item.get_closest_marker("browser") is not None or "page" in getattr(item, "fixturenames", ())


def _is_process(item) -> bool:
    return item.get_closest_marker("worker") is not None


def _uses_test_database(item) -> bool:
    fixtures = getattr(item, "fixturenames", ())
    return item.get_closest_marker("django_db") is not None or bool(
        {"db", "transactional_db", "live_server"} & set(fixtures)
    )


def pytest_itemcollected(item):
    """Browser and process tests are ``slow`` by definition (``make test-fast`` leaves them out)."""
    if _is_browser(item) or _is_process(item):
        item.add_marker(pytest.mark.slow)


def pytest_collection_modifyitems(config, items):
    """Process tests that do not use the test database first, browser tests last.

    Playwright's sync API keeps an event loop running in this thread from its first use until the
    end of the session; Django refuses synchronous database work while a loop runs. Running every
    Playwright test after all other tests keeps that loop away from them.

    The process tests without the test database (the embedded platform's: minutes each, mostly
    waiting on wall-clock time) go first, so plain ``--dist load`` starts on them instead of one long
    test starting last. Tests that use the database keep pytest-django's order (transactional ones
    after the others). Stable sort: the order within each class is unchanged. Under ``make test``
    each worker also writes the kinds of the tests it collected for the scheduler (tests/scheduling.py).
    """

    def rank(item) -> int:
        if _is_browser(item):
            return 2
        return 0 if _is_process(item) and not _uses_test_database(item) else 1

    items.sort(key=rank)
    if os.environ.get("PYTEST_XDIST_WORKER") and scheduling.wait_lanes():
        scheduling.kinds_write(items, is_browser=_is_browser, is_process=_is_process)


def pytest_configure(config):
    if not os.environ.get("PYTEST_XDIST_WORKER") and scheduling.wait_lanes():
        scheduling.kinds_clear()


@pytest.hookimpl(optionalhook=True)  # known only when xdist is loaded
def pytest_xdist_make_scheduler(config, log):
    """``make test``: the process tests on waiting lanes of their own (tests/scheduling.py)."""
    if scheduling.wait_lanes() and config.getvalue("dist") == "load":
        return scheduling.LanesScheduling(config, log)
    return None


@pytest.fixture
def deliver():
    """One pass of the trade-stream process's delivery (see ``tests.delivery``): fills reach the
    ledger the way production delivers them, after the order call returned."""
    from tests.delivery import stream_deliver

    return stream_deliver
