"""Fixtures for the platform tests.

- The secrets layer: real OpenBao and moto servers (started once per session, only when a test asks
  for them), a fake Alpaca account endpoint, and ``use_secrets`` to switch backend.
"""

from __future__ import annotations

import itertools
import os

import pytest

from tests.servers.fake_alpaca import fake_alpaca_start
from tests.servers.moto import CREDENTIALS, REGION, moto_start
from tests.servers.openbao import openbao_start
from trading_site.secret_store.conf import secrets_config_from_env
from trading_site.secret_store.manager import manager_build, manager_install

# Every variable the secrets layer reads: cleared before each use_secrets() so the developer's
# shell cannot leak into a test.
SECRETS_ENV_VARS = (
    "SECRETS_BACKEND", "SECRETS_CACHE_TTL", "SECRETS_FILE_DIR", "SECRETS_AWS_PREFIX",
    "VAULT_ADDR", "VAULT_TOKEN", "VAULT_ROLE_ID", "VAULT_SECRET_ID", "VAULT_APPROLE_MOUNT", "VAULT_MOUNT",
    "VAULT_PATH_PREFIX", "VAULT_NAMESPACE", "VAULT_TIMEOUT", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
    "ALPACA_BASE_URL", "SECRET_KEY", "ALPACA_API_KEY", "ALPACA_SECRET_KEY", "DATABASE_PASSWORD",
    "SECRET_KEY_FILE", "ALPACA_API_KEY_FILE", "ALPACA_SECRET_KEY_FILE", "DATABASE_PASSWORD_FILE",
)
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def openbao():
    server = openbao_start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_server():
    server = moto_start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_alpaca():
    server = fake_alpaca_start()
    yield server
    server.stop()


@pytest.fixture
def unique_prefix():
    """A fresh Vault path prefix / AWS name prefix per test, so tests never see each other's data."""
    return f"t{os.getpid()}x{next(_counter)}"


@pytest.fixture
def vault_env(openbao, unique_prefix):
    return {"VAULT_ADDR": openbao.addr, "VAULT_TOKEN": openbao.root_token, "VAULT_PATH_PREFIX": f"trading/{unique_prefix}"}


@pytest.fixture
def aws_env(moto_server, unique_prefix, monkeypatch):
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    return {"AWS_REGION": REGION, "AWS_ENDPOINT_URL": moto_server.endpoint_url, "SECRETS_AWS_PREFIX": f"{unique_prefix}/"}


@pytest.fixture
def use_secrets(monkeypatch, settings):
    """``use_secrets("vault", **env)`` → a fresh process-wide manager for that backend and env."""

    def factory(backend: str, **env: str):
        for key in SECRETS_ENV_VARS:
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("SECRETS_BACKEND", backend)
        settings.SECRETS_BACKEND = backend
        manager = manager_build(secrets_config_from_env(backend=backend))
        manager_install(manager)
        return manager

    yield factory
    manager_install(None)
