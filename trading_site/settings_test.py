"""Test settings: the production stack (PostgreSQL, Redis) on localhost, with fast password hashing.

``make test`` exports DATABASE_URL/REDIS_URL; these defaults make a bare ``pytest`` behave the same.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trading")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("DJANGO_ENV", "test")
os.environ.setdefault("VAR_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "test"))

from trading_site.settings import *  # noqa: F403
from trading_site.settings import CACHES, REST_FRAMEWORK

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Each test run gets its own cache namespace so parallel sessions on one Redis do not collide.
CACHES["default"]["KEY_PREFIX"] = f"test-{os.getpid()}"
REST_FRAMEWORK = {**REST_FRAMEWORK}
