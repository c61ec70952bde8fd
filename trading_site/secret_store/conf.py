"""Configuration of the secrets layer, read with the one typed reader (``trading_site.lib.env``).

The backend itself is ``settings.SECRETS_BACKEND`` (validated in settings.py); when settings are
still loading (the settings bridge) it is read from ``SECRETS_BACKEND`` directly. Everything else is
only needed by the chosen backend and is validated when that backend is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from trading_site.lib.env import env_duration, env_enum, env_str

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


def secrets_config_from_env(environ_map: Mapping[str, str] | None = None, *, backend: str | None = None) -> SecretsConfig:
    """Build and validate the configuration (``environ_map`` defaults to the process environment)."""
    env = environ_map
    backend = backend or env_enum("SECRETS_BACKEND", "env", BACKENDS, environ=env)
    if backend not in BACKENDS:
        raise ImproperlyConfigured(f"SECRETS_BACKEND must be env, file, vault or aws, not {backend!r}")
    ttl = env_duration("SECRETS_CACHE_TTL", 300.0, low=0.0, low_open=False, high=7 * 86400, environ=env)
    timeout = env_duration("VAULT_TIMEOUT", 5.0, low=0.0, high=600, environ=env)
    config = SecretsConfig(
        backend=backend,
        cache_ttl=ttl,
        file_dir=env_str("SECRETS_FILE_DIR", "", environ=env),
        vault_addr=env_str("VAULT_ADDR", "", environ=env),
        vault_token=env_str("VAULT_TOKEN", "", environ=env),
        vault_role_id=env_str("VAULT_ROLE_ID", "", environ=env),
        vault_secret_id=env_str("VAULT_SECRET_ID", "", environ=env),
        vault_approle_mount=env_str("VAULT_APPROLE_MOUNT", "approle", environ=env).strip("/"),
        vault_mount=env_str("VAULT_MOUNT", "secret", environ=env).strip("/"),
        vault_path_prefix=env_str("VAULT_PATH_PREFIX", "trading", environ=env).strip("/"),
        vault_namespace=env_str("VAULT_NAMESPACE", "", environ=env),
        vault_timeout=timeout,
        aws_region=env_str("AWS_REGION", "", environ=env) or env_str("AWS_DEFAULT_REGION", "", environ=env),
        aws_endpoint_url=env_str("AWS_ENDPOINT_URL", "", environ=env),
        aws_prefix=env_str("SECRETS_AWS_PREFIX", "trading/", environ=env),
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
    env = environ_map
    url = env_str("ALPACA_BASE_URL", "", environ=env) or env_str("ALPACA_URL_OVERRIDE", "", environ=env)
    if url and not url.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"ALPACA_BASE_URL must be an http(s) URL, not {url!r}")
    return url.rstrip("/")
