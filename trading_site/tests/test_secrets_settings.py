"""Dual-mode settings: the same settings load with each secrets backend and the broker client gets
the keys from it. Each case runs in a fresh interpreter, as a real process start would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import test_database_url
from trading_site.tests.conftest import SECRETS_ENV_VARS

# The probe's broker calls take from the broker-request budget, which reads the risk limits: the child
# uses this run's test database, as a worker uses the deployment's.

pytestmark = [
    pytest.mark.slow,  # each case starts an interpreter and secret servers: over ~2 s
    pytest.mark.django_db,  # the test database exists and is named (the child reads its migrated rows)
]

REPO = Path(__file__).resolve().parents[2]
SECRET_KEY = "k" * 64
API_KEY, API_SECRET = "PKSETTINGS01", "SKSETTINGS01"

# settings.py as the lead patches it (see the bridge's docstring): the real module plus the bridge.
SETTINGS_MODULE = """
from trading_site.settings_test import *  # noqa: F403
from trading_site.settings_test import DATABASES
from trading_site.secret_store.settings_bridge import load_settings_secrets

_SECRETS = load_settings_secrets()
SECRET_KEY = _SECRETS.get("SECRET_KEY", "")
if _SECRETS.get("DATABASE_PASSWORD"):
    DATABASES["default"]["PASSWORD"] = _SECRETS["DATABASE_PASSWORD"]
"""

# The platform's own broker adapter, built as the workers build it (keys via get_secret).
PROBE = """
import json, os
import django
django.setup()
from django.conf import settings
from orders.brokers.alpaca import AlpacaBroker

account = AlpacaBroker.from_settings().get_account()
print(json.dumps({
    "backend": settings.SECRETS_BACKEND,
    "secret_key_ok": settings.SECRET_KEY == os.environ["EXPECTED_SECRET_KEY"],
    "db_password_ok": settings.DATABASES["default"].get("PASSWORD") == "pg-pass-1",
    "equity": str(account.equity),
}))
"""


def _run(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    (tmp_path / "bridged_settings.py").write_text(SETTINGS_MODULE)
    base = {k: v for k, v in os.environ.items() if k not in SECRETS_ENV_VARS and not k.startswith("DJANGO_")}
    full = {
        **base,
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}",
        "DJANGO_SETTINGS_MODULE": "bridged_settings",
        "BROKER": "alpaca",
        "DATABASE_URL": test_database_url(),
        "EXPECTED_SECRET_KEY": SECRET_KEY,
        "ALPACA_URL_OVERRIDE": env.get("ALPACA_BASE_URL", ""),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=full, capture_output=True, text=True, timeout=120
    )


def _assert_loaded(result: subprocess.CompletedProcess, backend: str) -> None:
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"backend": backend, "secret_key_ok": True, "db_password_ok": True, "equity": "100000"}
    for value in (SECRET_KEY, API_KEY, API_SECRET, "pg-pass-1"):
        assert value not in result.stdout + result.stderr


def test_settings_load_with_env_backend(tmp_path, fake_alpaca):
    fake_alpaca.accept(API_KEY, API_SECRET)

    result = _run(tmp_path, {
        "SECRETS_BACKEND": "env", "ALPACA_BASE_URL": fake_alpaca.url, "SECRET_KEY": SECRET_KEY,
        "ALPACA_API_KEY": API_KEY, "ALPACA_SECRET_KEY": API_SECRET, "DATABASE_PASSWORD": "pg-pass-1",
    })

    _assert_loaded(result, "env")


def test_settings_load_with_file_backend(tmp_path, fake_alpaca):
    fake_alpaca.accept(API_KEY, API_SECRET)
    secrets_dir = tmp_path / "run-secrets"
    secrets_dir.mkdir()
    for name, value in {"SECRET_KEY": SECRET_KEY, "ALPACA_SECRET_KEY": API_SECRET, "DATABASE_PASSWORD": "pg-pass-1"}.items():
        (secrets_dir / name).write_text(value + "\n")
    (tmp_path / "api-key.txt").write_text(API_KEY + "\n")

    result = _run(tmp_path, {
        "SECRETS_BACKEND": "file", "ALPACA_BASE_URL": fake_alpaca.url, "SECRETS_FILE_DIR": str(secrets_dir),
        "ALPACA_API_KEY_FILE": str(tmp_path / "api-key.txt"),
    })

    _assert_loaded(result, "file")


def test_settings_load_with_vault_backend(tmp_path, fake_alpaca, openbao, vault_env):
    fake_alpaca.accept(API_KEY, API_SECRET)
    kv = openbao.client().secrets.kv.v2
    for name, value in {"SECRET_KEY": SECRET_KEY, "ALPACA_API_KEY": API_KEY, "ALPACA_SECRET_KEY": API_SECRET,
                        "DATABASE_PASSWORD": "pg-pass-1"}.items():
        kv.create_or_update_secret(path=f"{vault_env['VAULT_PATH_PREFIX']}/{name}", secret={"value": value}, mount_point="secret")

    result = _run(tmp_path, {"SECRETS_BACKEND": "vault", "ALPACA_BASE_URL": fake_alpaca.url, **vault_env})

    _assert_loaded(result, "vault")


def test_settings_load_with_aws_backend(tmp_path, fake_alpaca, moto_server, aws_env, unique_prefix):
    fake_alpaca.accept(API_KEY, API_SECRET)
    sm = moto_server.client()
    for name, value in {"SECRET_KEY": SECRET_KEY, "ALPACA_API_KEY": API_KEY, "ALPACA_SECRET_KEY": API_SECRET,
                        "DATABASE_PASSWORD": "pg-pass-1"}.items():
        sm.create_secret(Name=f"{unique_prefix}/{name}", SecretString=value)

    result = _run(tmp_path, {
        "SECRETS_BACKEND": "aws", "ALPACA_BASE_URL": fake_alpaca.url, **aws_env,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    })

    _assert_loaded(result, "aws")


def test_settings_refuse_to_start_when_a_required_secret_is_missing(tmp_path, openbao, vault_env):
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path=f"{vault_env['VAULT_PATH_PREFIX']}/ALPACA_API_KEY", secret={"value": API_KEY}, mount_point="secret"
    )

    result = _run(tmp_path, {"SECRETS_BACKEND": "vault", "ALPACA_BASE_URL": "http://127.0.0.1:9", **vault_env})

    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: required secrets missing from backend 'vault': ALPACA_SECRET_KEY (vault secret/")
    assert API_KEY not in result.stderr + result.stdout


def test_bridge_lets_the_secrets_command_start_when_a_required_secret_is_missing(use_secrets, monkeypatch, caplog):
    use_secrets("env", BROKER="alpaca")
    monkeypatch.setenv("ALPACA_API_KEY", API_KEY)
    from django.core.exceptions import ImproperlyConfigured

    from trading_site.secret_store.settings_bridge import load_settings_secrets

    monkeypatch.setattr(sys, "argv", ["manage.py", "runserver"])
    with pytest.raises(ImproperlyConfigured) as refused:
        load_settings_secrets()
    monkeypatch.setattr(sys, "argv", ["manage.py", "secrets", "check"])
    values = load_settings_secrets()

    assert str(refused.value).startswith(
        "required secrets missing from backend 'env': ALPACA_SECRET_KEY (env ALPACA_SECRET_KEY)"
    )
    assert values == {"ALPACA_API_KEY": API_KEY}
    assert "required secrets missing from backend 'env': ALPACA_SECRET_KEY" in caplog.text
    assert API_KEY not in caplog.text
