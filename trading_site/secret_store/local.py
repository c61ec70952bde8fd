"""Local backends: environment variables and files (``NAME_FILE``, as Docker and Kubernetes mount them)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from trading_site.secret_store.base import SecretBackendError, SecretManager, SecretNotFound, secret_name_validate


class EnvSecretManager(SecretManager):
    """``NAME`` from the process environment. Not cached: reading ``os.environ`` is already free,
    and a cache would only hide a changed variable."""

    name = "env"
    cacheable = False

    def __init__(self, environ_map: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ_map is None else environ_map

    def get_secret(self, name: str, *, version: str | None = None) -> str:
        secret_name_validate(name, self.name)
        self._no_versions(name, version)
        value = self._environ.get(name, "")
        if not value:
            raise SecretNotFound(name, self.name, f"environment variable {name} is not set or empty")
        return value

    def location(self, name: str) -> str:
        return f"env {name}"


class FileSecretManager(SecretManager):
    """The file named by ``NAME_FILE`` (or ``SECRETS_FILE_DIR/NAME`` when that directory is set).

    A single trailing newline is stripped (``echo value > file`` writes one). Mounted secret files
    are updated in place by the orchestrator, so values are re-read after the cache TTL.
    """

    name = "file"

    def __init__(self, *, directory: str = "", environ_map: Mapping[str, str] | None = None) -> None:
        self._dir = directory
        self._environ = os.environ if environ_map is None else environ_map

    def _path(self, name: str) -> Path | None:
        explicit = self._environ.get(f"{name}_FILE", "")
        if explicit:
            return Path(explicit)
        if self._dir:
            return Path(self._dir) / name
        return None

    def get_secret(self, name: str, *, version: str | None = None) -> str:
        secret_name_validate(name, self.name)
        self._no_versions(name, version)
        path = self._path(name)
        if path is None:
            raise SecretNotFound(name, self.name, f"{name}_FILE is not set")
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SecretNotFound(name, self.name, f"file {path} does not exist") from None
        except PermissionError:
            raise SecretBackendError(name, self.name, f"file {path} is not readable by this process") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretBackendError(name, self.name, f"cannot read file {path} ({type(exc).__name__})") from None
        value = raw[:-1] if raw.endswith("\n") else raw
        value = value[:-1] if value.endswith("\r") else value
        if not value:
            raise SecretNotFound(name, self.name, f"file {path} is empty")
        return value

    def location(self, name: str) -> str:
        path = self._path(name)
        return f"file {path}" if path is not None else f"file (set {name}_FILE)"
