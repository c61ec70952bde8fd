"""No Docker engine runs here, so the compose file is checked by reading it: services, commands
that exist in this project, the image runs as non-root, and no secret is baked in."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml
from django.core.management import get_commands

from trading_site.lib import queues

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())


def test_services_present():
    assert set(compose()["services"]) == {"postgres", "redis", "migrate", "web", "worker", "beat", "trade-stream"}


def test_each_app_command_exists_in_the_project():
    services = compose()["services"]
    web = services["web"]["command"]
    assert web[0] == "gunicorn"
    module, attr = web[1].split(":")
    assert (ROOT / (module.replace(".", "/") + ".py")).exists()
    import importlib

    assert hasattr(importlib.import_module(module), attr)

    for name in ("worker", "beat"):
        cmd = services[name]["command"]
        assert cmd[:3] == ["celery", "-A", "trading_site"]
        assert cmd[3] == name
    worker_queues = services["worker"]["command"][services["worker"]["command"].index("--queues") + 1].split(",")
    assert set(worker_queues) == set(queues.ALL)

    for name in ("migrate", "trade-stream"):
        cmd = services[name]["command"]
        assert cmd[:2] == ["python", "manage.py"] and cmd[2] in get_commands()


def test_app_services_share_production_settings():
    for name in ("web", "worker", "beat", "migrate", "trade-stream"):
        env = compose()["services"][name]["environment"]
        assert env["DJANGO_ENV"] == "production"
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")


def test_dockerfile_is_multistage_and_non_root():
    text = (ROOT / "docker" / "Dockerfile").read_text()
    assert text.count("\nFROM ") + text.startswith("FROM ") >= 2
    user_lines = [line for line in text.splitlines() if line.startswith("USER ")]
    assert user_lines and user_lines[-1] != "USER root"
    cmd = [line for line in text.splitlines() if line.startswith("CMD ")][-1]
    assert "gunicorn" in cmd and "trading_site.wsgi:application" in cmd


def test_no_secret_values_in_templates():
    lines = (ROOT / "docker" / "env.template").read_text().splitlines()
    template = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    # Both keys must be listed (a template without them could not fail this test) and left empty.
    assert template["POSTGRES_PASSWORD"] == ""
    assert template["SECRET_KEY"] == ""
    for part in shlex.split((ROOT / "docker" / "Dockerfile").read_text(), comments=True):
        assert not part.startswith("SECRET_KEY=") or "build-only" in part
