"""The backend-neutral part of the secrets layer: the :class:`SecretManager` interface and its errors.

Every error names the secret and the backend and never carries a value. Backend exceptions are
translated into these types with ``from None`` so a client library's message (which may echo a
request) never ends up in a traceback or a log line.
"""

from __future__ import annotations

import abc
import re

# Secret names are environment-variable style: they double as env var names (env backend),
# ``NAME_FILE`` variables (file backend), KV paths (Vault) and secret ids (AWS).
NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,127}$")


class SecretError(Exception):
    """Base class. ``name`` and ``backend`` identify what failed; a value is never included."""

    def __init__(self, name: str, backend: str, problem: str) -> None:
        super().__init__(f"secret {name!r} in backend {backend!r}: {problem}")
        self.name = name
        self.backend = backend
        self.problem = problem


class SecretNotFound(SecretError, LookupError):
    """The secret (or the requested version) does not exist or is empty."""

    def __init__(self, name: str, backend: str, problem: str = "not found") -> None:
        super().__init__(name, backend, problem)


class SecretAccessDenied(SecretError, PermissionError):
    """The backend refused the credentials or the policy does not allow this secret."""

    def __init__(self, name: str, backend: str, problem: str = "access denied") -> None:
        super().__init__(name, backend, problem)


class SecretBackendError(SecretError):
    """The backend is unreachable, misconfigured, or does not support the operation."""


class SecretConflict(SecretBackendError):
    """The secret changed since it was read (a concurrent write); nothing was written."""


class SecretVerificationFailed(SecretError):
    """A candidate value for a rotation failed its verification; nothing was written."""


def secret_name_validate(name: str, backend: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SecretBackendError(
            str(name)[:40], backend, "invalid secret name (expected upper-case letters, digits and _)"
        )
    return name


class SecretManager(abc.ABC):
    """A source of secrets.

    ``get_secret(name)`` returns the current value. Backends that keep history (Vault KV v2, AWS
    Secrets Manager) also accept ``version=`` and implement :meth:`put_secret`, which returns the
    new version's id; the others raise :class:`SecretBackendError` for both.
    """

    #: short backend name used in audit entries and errors: env, file, vault, aws
    name: str = ""
    supports_versions: bool = False
    #: whether values may be kept in the process-local TTL cache
    cacheable: bool = True

    @abc.abstractmethod
    def get_secret(self, name: str, *, version: str | None = None) -> str: ...

    def put_secret(self, name: str, value: str, *, expected_version: str | None = None) -> str:
        """Write ``value`` as the new current version and return its id.

        ``expected_version`` (``"0"`` = the secret must not exist yet) makes the write conditional on
        the current version, so two rotations cannot silently overwrite each other.
        """
        raise SecretBackendError(name, self.name, "this backend is read-only; write the new value at its source")

    def current_version(self, name: str) -> str | None:
        """Id of the current version, ``None`` when the backend has no versions or no secret."""
        return None

    def previous_version(self, name: str) -> str | None:
        """Id of the version before the current one, if the backend keeps one."""
        return None

    def after_fork(self) -> None:
        """Called in a child process after ``fork()`` (Celery prefork, gunicorn): drop network
        clients and locks inherited from the parent; a shared keep-alive socket would interleave
        two processes' responses. Local backends hold no connection."""
        return None

    @abc.abstractmethod
    def location(self, name: str) -> str:
        """Where this secret is looked up (a path, variable name or secret id — never the value)."""

    def _write_check(self, name: str, value: str) -> None:
        """What every writing backend checks first: a valid name and a non-empty string value."""
        secret_name_validate(name, self.name)
        if not isinstance(value, str) or not value:
            raise SecretBackendError(name, self.name, "refusing to write an empty value")

    def _no_versions(self, name: str, version: str | None) -> None:
        if version is not None:
            raise SecretBackendError(name, self.name, "this backend does not keep versions")
