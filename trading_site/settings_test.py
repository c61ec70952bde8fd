"""Test settings: the production stack (PostgreSQL, Redis) on localhost, with fast password hashing.

``make test`` exports DATABASE_URL/REDIS_URL; these defaults make a bare ``pytest`` behave the same.

Parallel runs (pytest-xdist, ``make test``): each worker process (``PYTEST_XDIST_WORKER=gwN``) gets
a state of its own, so workers never share a row, a cache key, a queue or a file:
- the test database ``test_<name>_gwN`` (pytest-django's suffix),
- the Redis database number of ``REDIS_URL`` plus N (``cache.clear()`` flushes a whole Redis
  database, and Celery queues have fixed names) and the cache prefix of that test database,
- ``VAR_DIR=var/test/gwN`` (limiter files, replay store, demo clock, lock files).
Processes a test starts (tests/processes.py) get the worker's database URL and Redis URL and no
``PYTEST_XDIST_WORKER``, so they land on the same state; a subprocess that inherits the whole
environment computes the same values from it. docs/testing.md.
"""

import os
import re

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trading")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("DJANGO_ENV", "test")

# "gw0", "gw1", ... inside a pytest-xdist worker; "" in a serial run (and in the processes a test starts).
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
XDIST_INDEX = int(XDIST_WORKER.removeprefix("gw")) if re.fullmatch(r"gw\d+", XDIST_WORKER) else 0

_var_test = os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "test")
# A worker's VAR_DIR is its parent's plus gwN: the xdist controller reads these settings too and
# exports VAR_DIR=var/test, which its workers inherit (a plain setdefault left both workers on it).
_var_dir = os.environ.get("VAR_DIR", _var_test)
if XDIST_WORKER and os.path.basename(os.path.normpath(_var_dir)) != XDIST_WORKER:
    _var_dir = os.path.join(_var_dir, XDIST_WORKER)
os.environ["VAR_DIR"] = _var_dir


def _redis_url_for_worker(url: str, index: int) -> str:
    """``redis://host:port/D`` → ``.../D+index`` (Redis has databases 0-15)."""
    if not index or not url:
        return url
    base, _, db = url.rpartition("/")
    number = (int(db) if db.isdigit() else 0) + index
    if number > 15:
        raise RuntimeError(
            f"xdist worker {XDIST_WORKER} would need Redis database {number}: lower the base "
            f"database in REDIS_URL ({url}) or the number of workers"
        )
    return f"{base}/{number}"


from trading_site.settings import *  # noqa: E402, F403
from trading_site.settings import CACHES, DATABASES, REDIS_URL  # noqa: E402

# The settings module read the environment's REDIS_URL; each xdist worker moves to a database of its own.
REDIS_URL = _redis_url_for_worker(REDIS_URL, XDIST_INDEX)
if REDIS_URL:
    CACHES["default"]["LOCATION"] = REDIS_URL
    CELERY_BROKER_URL = REDIS_URL

# The suite uses the production fill delivery (settings.SIM_FILL_DELIVERY, "stream" unless the
# environment says otherwise): an order call returns at acceptance and fills reach the ledger later,
# delivered from the simulated exchange's outbox (the trade-stream process, or a test pumping it as
# that process would). A test that needs fills booked inside the order call builds
# SimulatedBroker(fill_delivery="inline") itself and says why.

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Each test client builds the middleware again, and WhiteNoise's listed every static file of every app
# (~220, 50 ms) each time; autorefresh finds a static file when it is requested (as under DEBUG).
WHITENOISE_AUTOREFRESH = True
# One cache namespace per test database: the test process and the worker/beat processes it starts
# (which connect to "test_<name>", or "test_<name>_gwN" under xdist) share it, as production
# processes do, while test sessions on other databases do not collide on the same Redis.
_db_name = str(DATABASES["default"]["NAME"]).removeprefix("test_")
if XDIST_WORKER and not _db_name.endswith(f"_{XDIST_WORKER}"):
    _db_name = f"{_db_name}_{XDIST_WORKER}"  # the name pytest-django gives this worker's test database
CACHES["default"]["KEY_PREFIX"] = "test-" + _db_name
