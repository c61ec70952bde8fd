"""Configuration of the secrets layer, read from the environment and validated loudly.

The backend itself is ``settings.SECRETS_BACKEND`` (validated in settings.py); when settings are
still loading (the settings bridge) it is read from ``SECRETS_BACKEND`` directly. Everything else is
only needed by the chosen backend and is validated when that backend is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import environ
from django.core.exceptions import ImproperlyConfigured

BACKENDS = ("env", "file", "vault", "aws")


@dataclass(frozen=True)
class SecretsConfig:
    backend: str = "env"
    cache_ttl: float = 300.0
    file_dir: str = ""
    vault_addr: str = ""
    vault_token: str = ""
    vault_role_id: str = ""
    vault_secret_id: str = ""
    vault_approle_mount: str = "approle"
    vault_mount: str = "secret"
    vault_path_prefix: str = "trading"
    vault_namespace: str = ""
    vault_timeout: float = 5.0
    aws_region: str = ""
    aws_endpoint_url: str = ""
    aws_prefix: str = "trading/"


def _env_for(environ_map: Mapping[str, str] | None) -> environ.Env:
    env = environ.Env()
    if environ_map is not None:
        env.ENVIRON = environ_map
    return env


def secrets_config_from_env(environ_map: Mapping[str, str] | None = None, *, backend: str | None = None) -> SecretsConfig:
    """Build and validate the configuration (``environ_map`` defaults to ``os.environ``)."""
    env = _env_for(environ_map)
    backend = backend or env.str("SECRETS_BACKEND", default="env")
    if backend not in BACKENDS:
        raise ImproperlyConfigured(f"SECRETS_BACKEND must be env, file, vault or aws, not {backend!r}")
    try:
        ttl = env.float("SECRETS_CACHE_TTL", default=300.0)
        timeout = env.float("VAULT_TIMEOUT", default=5.0)
    except ValueError as exc:
        raise ImproperlyConfigured(f"SECRETS_CACHE_TTL and VAULT_TIMEOUT must be numbers of seconds: {exc}") from None
    if ttl < 0:
        raise ImproperlyConfigured(f"SECRETS_CACHE_TTL must be >= 0 seconds, not {ttl}")
    if timeout <= 0:
        raise ImproperlyConfigured(f"VAULT_TIMEOUT must be > 0 seconds, not {timeout}")
    config = SecretsConfig(
        backend=backend,
        cache_ttl=ttl,
        file_dir=env.str("SECRETS_FILE_DIR", default=""),
        vault_addr=env.str("VAULT_ADDR", default=""),
        vault_token=env.str("VAULT_TOKEN", default=""),
        vault_role_id=env.str("VAULT_ROLE_ID", default=""),
        vault_secret_id=env.str("VAULT_SECRET_ID", default=""),
        vault_approle_mount=env.str("VAULT_APPROLE_MOUNT", default="approle").strip("/"),
        vault_mount=env.str("VAULT_MOUNT", default="secret").strip("/"),
        vault_path_prefix=env.str("VAULT_PATH_PREFIX", default="trading").strip("/"),
        vault_namespace=env.str("VAULT_NAMESPACE", default=""),
        vault_timeout=timeout,
        aws_region=env.str("AWS_REGION", default="") or env.str("AWS_DEFAULT_REGION", default=""),
        aws_endpoint_url=env.str("AWS_ENDPOINT_URL", default=""),
        aws_prefix=env.str("SECRETS_AWS_PREFIX", default="trading/"),
    )
    if backend == "vault":
        if not config.vault_addr.startswith(("http://", "https://")):
            raise ImproperlyConfigured("SECRETS_BACKEND=vault needs VAULT_ADDR=http(s)://host:port")
        has_approle = bool(config.vault_role_id or config.vault_secret_id)
        if has_approle and not (config.vault_role_id and config.vault_secret_id):
            raise ImproperlyConfigured("Vault AppRole auth needs both VAULT_ROLE_ID and VAULT_SECRET_ID")
        if not (config.vault_token or has_approle):
            raise ImproperlyConfigured("SECRETS_BACKEND=vault needs VAULT_TOKEN or VAULT_ROLE_ID + VAULT_SECRET_ID")
        if not config.vault_mount:
            raise ImproperlyConfigured("VAULT_MOUNT must not be empty")
    if backend == "aws" and not config.aws_region:
        raise ImproperlyConfigured("SECRETS_BACKEND=aws needs AWS_REGION")
    return config


def alpaca_base_url(environ_map: Mapping[str, str] | None = None) -> str:
    """Overrides alpaca-py's trading endpoint for the rotation check (a proxy, or the fake server in
    tests): ``ALPACA_BASE_URL``, else the broker adapter's ``ALPACA_URL_OVERRIDE`` (orders/conf.py),
    so the new keys are verified against the endpoint the broker will use."""
    env = _env_for(environ_map)
    url = env.str("ALPACA_BASE_URL", default="") or env.str("ALPACA_URL_OVERRIDE", default="")
    if url and not url.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"ALPACA_BASE_URL must be an http(s) URL, not {url!r}")
    return url.rstrip("/")
