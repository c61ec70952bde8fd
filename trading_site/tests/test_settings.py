"""Settings load from the environment in both runtime modes and fail loudly on bad values.

Each case loads the settings in a fresh interpreter, exactly as a process would start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each case loads the settings in a fresh interpreter: over ~2 s

ROOT = Path(__file__).resolve().parents[2]
PROD_KEY = "k" * 20 + "-production-secret-key-0123456789abcdef"

PROBE = """
import json, django
from django.conf import settings

django.setup()
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "broker": settings.CELERY_BROKER_URL,
    "cache": settings.CACHES["default"]["BACKEND"],
    "debug": settings.DEBUG,
    "production": settings.PRODUCTION,
    "log_format": settings.LOG_FORMAT,
    "trading_broker": settings.BROKER,
}))
"""


def load(env: dict[str, str], code: str = PROBE) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {
        "DATABASE_URL", "REDIS_URL", "DJANGO_ENV", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "LOG_FORMAT", "PORT",
        "BROKER", "VAR_DIR", "PYTEST_XDIST_WORKER",  # the last: a process as started, not an xdist worker
    }}
    clean["DJANGO_SETTINGS_MODULE"] = "trading_site.settings"
    clean.update(env)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)


def test_embedded_default_needs_no_servers(tmp_path):
    result = load({"VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    cfg = json.loads(result.stdout)
    assert cfg["engine"] == "django.db.backends.sqlite3"
    assert cfg["db_name"] == str(tmp_path / "trading.sqlite3")
    assert cfg["broker"] == "filesystem://"
    assert cfg["cache"].endswith("FileBasedCache")
    assert cfg == cfg | {"debug": False, "production": False, "trading_broker": "simulated"}


VAR_DIR_PROBE = """
import os, django
from django.conf import settings

django.setup()
print(settings.VAR_DIR, os.environ["VAR_DIR"])
"""


@pytest.mark.parametrize(("given", "worker", "expected"), [
    ("test", "gw1", "test/gw1"),  # what the xdist controller exported: each worker its own folder
    ("test/gw1", "gw1", "test/gw1"),  # already the worker's
    ("test/gw1", "", "test/gw1"),  # a process a worker's test started: the worker's folder
])
def test_an_xdist_worker_gets_a_var_dir_of_its_own(tmp_path, given, worker, expected):
    env = {"DJANGO_SETTINGS_MODULE": "trading_site.settings_test", "VAR_DIR": str(tmp_path / given)}
    if worker:
        env["PYTEST_XDIST_WORKER"] = worker
    result = load(env, VAR_DIR_PROBE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(tmp_path / expected)] * 2


def test_production_uses_postgres_and_redis():
    result = load({
        "DJANGO_ENV": "production",
        "SECRET_KEY": PROD_KEY,
        "ALLOWED_HOSTS": "trading.example.com",
        "DATABASE_URL": "postgres://trader:pw@db.internal:5432/trading",
        "REDIS_URL": "redis://cache.internal:6379/0",
        "LOG_FORMAT": "json",
    })
    assert result.returncode == 0, result.stderr
    cfg = json.loads(result.stdout)
    assert cfg["engine"] == "django.db.backends.postgresql"
    assert cfg["broker"] == "redis://cache.internal:6379/0"
    assert cfg["cache"].endswith("RedisCache")
    assert cfg["production"] is True and cfg["log_format"] == "json"


PRODUCTION_BASE = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": PROD_KEY,
    "ALLOWED_HOSTS": "trading.example.com",
    "DATABASE_URL": "postgres://trader:pw@127.0.0.1:5432/trading",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"DEBUG": "true"}, "DEBUG must be off in production"),
        ({"SECRET_KEY": ""}, "SECRET_KEY is required in production"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is required in production"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is required in production"),
        ({"DATABASE_URL": "sqlite:////tmp/x.sqlite3"}, "Production needs PostgreSQL"),
        ({"REDIS_URL": ""}, "Production needs Redis"),
        ({"REDIS_URL": "http://nope"}, "REDIS_URL must start with"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be text or json"),
        ({"PORT": "70000"}, "PORT must be between"),
        ({"BROKER": "ibkr"}, "BROKER must be simulated or alpaca"),
        ({"DJANGO_ENV": "staging"}, "DJANGO_ENV must be embedded, production or test"),
    ],
)
def test_bad_values_fail_loudly(override, message):
    result = load(PRODUCTION_BASE | override)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_port_must_be_a_number():
    result = load({"PORT": "eighty"})
    assert result.returncode != 0
    assert "eighty" in result.stderr


def test_check_deploy_is_clean_in_production():
    result = load(
        PRODUCTION_BASE,
        code="import django, sys\nfrom django.core.management import call_command\ndjango.setup()\n"
        "call_command('check', '--deploy', '--fail-level', 'WARNING')\nprint('clean')",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "clean" in result.stdout
