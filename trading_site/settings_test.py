"""Test settings: the production stack (PostgreSQL, Redis) on localhost, with fast password hashing.

``make test`` exports DATABASE_URL/REDIS_URL; these defaults make a bare ``pytest`` behave the same.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trading")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("DJANGO_ENV", "test")
os.environ.setdefault("VAR_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "test"))

from trading_site.settings import *  # noqa: F403
from trading_site.settings import CACHES, DATABASES

# The suite uses the production fill delivery (settings.SIM_FILL_DELIVERY, "stream" unless the
# environment says otherwise): an order call returns at acceptance and fills reach the ledger later,
# delivered from the simulated exchange's outbox (the trade-stream process, or a test pumping it as
# that process would). A test that needs fills booked inside the order call builds
# SimulatedBroker(fill_delivery="inline") itself and says why.

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# One cache namespace per test database: the test process and the worker/beat processes it starts
# (which connect to "test_<name>") share it, as production processes do, while test sessions on
# other databases do not collide on the same Redis.
CACHES["default"]["KEY_PREFIX"] = "test-" + str(DATABASES["default"]["NAME"]).removeprefix("test_")
