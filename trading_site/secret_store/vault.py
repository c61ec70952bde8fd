"""HashiCorp Vault / OpenBao backend: KV version 2 through hvac, token or AppRole auth.

A secret ``NAME`` lives at ``<VAULT_MOUNT>/data/<VAULT_PATH_PREFIX>/NAME`` with the value under the
key ``value``. KV v2 keeps every version, so rotation writes a new version and the previous one stays
readable for rollback (``get_secret(name, version="3")``).

With AppRole the client logs in lazily and logs in again once when a request is refused (the token
may have expired); a second refusal is a policy denial.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import hvac
import hvac.exceptions
import requests

from trading_site.secret_store.base import (
    SecretAccessDenied,
    SecretBackendError,
    SecretConflict,
    SecretManager,
    SecretNotFound,
    secret_name_validate,
)
from trading_site.secret_store.conf import SecretsConfig

T = TypeVar("T")
VALUE_KEY = "value"


class VaultSecretManager(SecretManager):
    name = "vault"
    supports_versions = True

    def __init__(self, config: SecretsConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._client = self._client_new(token=config.vault_token or None)
        self._approle = bool(config.vault_role_id and config.vault_secret_id)
        self._logged_in = not self._approle

    def _client_new(self, *, token: str | None) -> hvac.Client:
        return hvac.Client(
            url=self._config.vault_addr,
            token=token,
            namespace=self._config.vault_namespace or None,
            timeout=self._config.vault_timeout,
        )

    def after_fork(self) -> None:
        # Keep the token (an AppRole login's included) so the child need not log in again.
        token = self._client.token
        self._lock = threading.Lock()
        self._client = self._client_new(token=token)

    # --- plumbing ----------------------------------------------------------------------------------
    def _path(self, name: str) -> str:
        prefix = self._config.vault_path_prefix
        return f"{prefix}/{name}" if prefix else name

    def location(self, name: str) -> str:
        return f"vault {self._config.vault_mount}/{self._path(name)}"

    def _login(self, name: str) -> None:
        try:
            self._client.auth.approle.login(
                role_id=self._config.vault_role_id,
                secret_id=self._config.vault_secret_id,
                mount_point=self._config.vault_approle_mount,
            )
        except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized, hvac.exceptions.InvalidRequest):
            raise SecretAccessDenied(name, self.name, "AppRole login refused (check VAULT_ROLE_ID/VAULT_SECRET_ID)") from None
        except (requests.RequestException, hvac.exceptions.VaultError) as exc:
            raise SecretBackendError(name, self.name, f"AppRole login failed ({type(exc).__name__})") from None
        self._logged_in = True

    def _call(self, name: str, fn: Callable[[], T], *, missing: str = "not found") -> T:
        with self._lock:
            if not self._logged_in:
                self._login(name)
        for attempt in (1, 2):
            try:
                return fn()
            except hvac.exceptions.InvalidPath:
                raise SecretNotFound(name, self.name, f"{missing} at {self.location(name)}") from None
            except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized):
                if self._approle and attempt == 1:
                    with self._lock:
                        self._login(name)
                    continue
                raise SecretAccessDenied(name, self.name, f"permission denied for {self.location(name)}") from None
            except requests.RequestException as exc:
                raise SecretBackendError(
                    name, self.name, f"cannot reach {self._config.vault_addr} ({type(exc).__name__})"
                ) from None
            except hvac.exceptions.VaultError as exc:
                raise SecretBackendError(name, self.name, f"Vault error ({type(exc).__name__})") from None
        raise SecretAccessDenied(name, self.name, f"permission denied for {self.location(name)}")

    # --- interface ----------------------------------------------------------------------------------
    def get_secret(self, name: str, *, version: str | None = None) -> str:
        secret_name_validate(name, self.name)
        if version is not None and not str(version).isdigit():
            raise SecretBackendError(name, self.name, "Vault versions are positive integers")
        response = self._call(
            name,
            lambda: self._client.secrets.kv.v2.read_secret_version(
                path=self._path(name),
                mount_point=self._config.vault_mount,
                version=int(version) if version is not None else None,
                raise_on_deleted_version=True,
            ),
            missing="not found" if version is None else f"version {version} not found",
        )
        data = ((response or {}).get("data") or {}).get("data") or {}
        value = data.get(VALUE_KEY)
        if not isinstance(value, str) or not value:
            raise SecretNotFound(name, self.name, f"no {VALUE_KEY!r} key at {self.location(name)}")
        return value

    def put_secret(self, name: str, value: str, *, expected_version: str | None = None) -> str:
        self._write_check(name, value)
        cas = int(expected_version) if expected_version is not None else None
        try:
            response = self._call(
                name,
                lambda: self._client.secrets.kv.v2.create_or_update_secret(
                    path=self._path(name), secret={VALUE_KEY: value}, cas=cas, mount_point=self._config.vault_mount
                ),
            )
        except SecretBackendError as exc:
            if cas is not None and "InvalidRequest" in exc.problem:
                # KV v2 check-and-set: the current version is no longer the one we read.
                raise SecretConflict(
                    name, self.name, f"changed concurrently (expected version {expected_version})"
                ) from None
            raise
        return str(response["data"]["version"])

    def _metadata(self, name: str) -> dict:
        secret_name_validate(name, self.name)
        response = self._call(
            name,
            lambda: self._client.secrets.kv.v2.read_secret_metadata(
                path=self._path(name), mount_point=self._config.vault_mount
            ),
        )
        return response.get("data") or {}

    def current_version(self, name: str) -> str | None:
        try:
            meta = self._metadata(name)
        except SecretNotFound:
            return None
        current = meta.get("current_version") or 0
        return str(current) if current else None

    def previous_version(self, name: str) -> str | None:
        try:
            meta = self._metadata(name)
        except SecretNotFound:
            return None
        current = int(meta.get("current_version") or 0)
        versions = meta.get("versions") or {}
        for candidate in range(current - 1, 0, -1):
            info = versions.get(str(candidate)) or {}
            if info and not info.get("destroyed") and not info.get("deletion_time"):
                return str(candidate)
        return None
