"""Settings of ``make test-fast``: the suite's services-free lane — SQLite and a local-memory cache,
no PostgreSQL, Redis or Chromium.

It runs the tests that are not marked ``slow`` (processes, browser, >5 s), ``postgres`` or ``redis``
(docs/testing.md). Everything else is trading_site/settings_test.py, so a test behaves the same in
both lanes. pytest-django creates one in-memory SQLite database per process (per xdist worker).
"""

import os

# Not setdefault: this lane must not reach a server, whatever the environment says.
os.environ["DATABASE_URL"] = "sqlite:///test-fast.sqlite3"  # the test database itself is in memory
os.environ["REDIS_URL"] = ""

from trading_site.settings_test import *  # noqa: F403

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "test-fast"}}
