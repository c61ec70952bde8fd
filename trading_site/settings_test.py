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

# The suite books simulated fills inside the submitting call (deterministic, no delivery process);
# tests of the streamed delivery set SIM_FILL_DELIVERY=stream for the processes they start, or
# build a SimulatedBroker(fill_delivery="stream").
if "SIM_FILL_DELIVERY" not in os.environ:
    SIM_FILL_DELIVERY = "inline"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# One cache namespace per test database: the test process and the worker/beat processes it starts
# (which connect to "test_<name>") share it, as production processes do, while test sessions on
# other databases do not collide on the same Redis.
CACHES["default"]["KEY_PREFIX"] = "test-" + str(DATABASES["default"]["NAME"]).removeprefix("test_")
