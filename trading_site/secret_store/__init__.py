"""Secrets layer entry point (named ``secret_store``: a top-level ``secrets`` would shadow the stdlib).

``get_secret(name)`` returns the secret's value from the configured backend
(``settings.SECRETS_BACKEND``: env, file, vault or aws — see docs/ADRs/0003-secrets-architecture.md)
or raises :class:`SecretNotFound`. Values are cached for ``SECRETS_CACHE_TTL`` seconds, every backend
access is audited by name, backend and caller, and values are never logged.

Modules: ``base`` (interface, errors), ``local``/``vault``/``aws`` (backends), ``manager`` (cache,
audit, process-wide instance), ``settings_bridge`` (secrets for settings.py), ``requirements``
(which secrets the configuration needs), ``rotation`` (rotate, verify, last-rotated dates),
``health`` (the /healthz check).
"""

from __future__ import annotations

from trading_site.secret_store.base import (
    SecretAccessDenied,
    SecretBackendError,
    SecretConflict,
    SecretError,
    SecretManager,
    SecretNotFound,
    SecretVerificationFailed,
)
from trading_site.secret_store.manager import secret_manager

__all__ = [
    "SecretAccessDenied",
    "SecretBackendError",
    "SecretConflict",
    "SecretError",
    "SecretManager",
    "SecretNotFound",
    "SecretVerificationFailed",
    "get_secret",
    "put_secret",
    "secret_last_rotated",
]


def get_secret(name: str, *, version: str | None = None) -> str:
    """The secret's current value (or the given version, where the backend keeps versions)."""
    return secret_manager().get_secret(name, version=version)


def put_secret(name: str, value: str, *, actor=None) -> str:
    """Write a new version without verification (use ``rotation.secret_rotate`` for rotations)."""
    return secret_manager().put_secret(name, value, actor=actor)


def secret_last_rotated(name: str):
    """When ``name`` was last rotated through ``manage.py secrets rotate`` (``None`` if never)."""
    # settings.py imports this package: Django apps load later
    from trading_site.secret_store.rotation import secret_last_rotated as _last_rotated

    return _last_rotated(name=name)
