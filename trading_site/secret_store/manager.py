"""The process-wide secret manager: a backend wrapped in a TTL cache and access auditing.

Design:
- Cached hit: one dict lookup and one ``time.monotonic()`` comparison (a duration, not "now" — the
  replay clock must not expire or freeze the cache). Hits are logged at DEBUG only, so with the
  usual INFO level a hit costs ~1 µs (budget 0.1 ms).
- Miss (an actual backend read), a failed read, a versioned read, a write: an INFO log line and an
  ``ActionLog`` row ``secret.read``/``secret.write`` with name, backend, caller and outcome — never
  the value. Backends that are not cached (env) are audited at most once per name and outcome per
  TTL window, so a hot path does not write a row per call.
- Before the Django app registry is ready (settings are loading) there is no database: the access
  is logged only.
- A failed audit write is logged at ERROR and does not fail the read: losing the trading process
  because the audit table is unavailable would be worse, and the log line is itself a record.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable

from trading_site.secret_store.base import SecretConflict, SecretError, SecretManager
from trading_site.secret_store.conf import SecretsConfig, secrets_config_from_env

logger = logging.getLogger("trading_site.secrets")
_PACKAGE = __name__.rsplit(".", 1)[0]
_WARN_OUTCOMES = frozenset({"SecretAccessDenied", "SecretBackendError", "SecretError", "verification_failed"})


def caller_describe() -> str:
    """``module:function:line`` of the first frame outside the secrets layer."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(_PACKAGE):
            return f"{module}:{frame.f_code.co_name}:{frame.f_lineno}"
        frame = frame.f_back
    return "unknown"


def _apps_ready() -> bool:
    try:
        from django.apps import apps
    except ImportError:  # pragma: no cover - Django is always installed here
        return False
    return apps.ready


def access_record(
    *, action: str, name: str, backend: str, caller: str, outcome: str, actor=None, data: dict | None = None
) -> None:
    """Log and (when the database is available) audit one secret access. Never pass a value."""
    payload = {"backend": backend, "caller": caller, "outcome": outcome, **(data or {})}
    # A missing secret is often expected (optional ones, `secrets check`); refusals and broken
    # backends are not.
    level = logging.WARNING if outcome in _WARN_OUTCOMES else logging.INFO
    logger.log(
        level,
        "%s %s backend=%s outcome=%s caller=%s",
        action,
        name,
        backend,
        outcome,
        caller,
        extra={"secret_name": name, "secret_backend": backend, "secret_outcome": outcome, "caller": caller},
    )
    if not _apps_ready():
        return
    try:
        from django.db import transaction

        # settings.py imports this package: Django apps load later
        from trading_site.audit import action_record

        # actor: the one passed in (rotation by a person) or the system; a read inside a web request
        # is tied to it by the request id that action_record stores.
        with transaction.atomic():
            action_record(actor=actor, action=action, object_type="secret", object_id=name, data=payload)
    except Exception as exc:  # see module docstring: an audit failure must not fail the read
        logger.error(
            "secret access audit row not written for %s (%s)",
            name,
            type(exc).__name__,
            extra={"secret_name": name, "secret_backend": backend},
        )


class CachedSecretManager:
    """Wraps a :class:`SecretManager` with the TTL cache and the audit trail."""

    def __init__(
        self,
        backend: SecretManager,
        *,
        ttl: float,
        config: SecretsConfig | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self._monotonic = monotonic
        self.name = backend.name
        self.ttl = ttl
        self.config = config
        self._cache: dict[str, tuple[float, str]] = {}
        self._audited_until: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    # --- reads ------------------------------------------------------------------------------------
    def get_secret(self, name: str, *, version: str | None = None, fresh: bool = False, actor=None) -> str:
        if version is None and not fresh:
            entry = self._cache.get(name)
            if entry is not None and entry[0] > self._monotonic():
                if logger.isEnabledFor(logging.DEBUG):
                    caller = caller_describe()
                    logger.debug(
                        "secret.read %s backend=%s outcome=cached caller=%s",
                        name,
                        self.name,
                        caller,
                        extra={"secret_name": name, "secret_backend": self.name, "secret_outcome": "cached", "caller": caller},
                    )
                return entry[1]
        return self._read(name, version=version, force_audit=fresh or version is not None, actor=actor)

    def _read(self, name: str, *, version: str | None, force_audit: bool, actor) -> str:
        caller = caller_describe()
        extra = {"version": version} if version is not None else {}
        try:
            value = self.backend.get_secret(name, version=version)
        except SecretError as exc:
            self._audit("secret.read", name, caller, type(exc).__name__, force_audit, actor, {**extra, "problem": exc.problem})
            raise
        now = self._monotonic()
        if version is None and self.ttl > 0 and self.backend.cacheable:
            self._cache[name] = (now + self.ttl, value)
        self._audit("secret.read", name, caller, "read", force_audit or self.backend.cacheable, actor, extra)
        return value

    def _audit(self, action, name, caller, outcome, force, actor, data) -> None:
        key = (name, outcome)
        now = self._monotonic()
        if not force and self.ttl > 0:
            if self._audited_until.get(key, 0.0) > now:
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug(
                        "%s %s backend=%s outcome=%s caller=%s (audited earlier in this TTL window)",
                        action, name, self.name, outcome, caller,
                        extra={"secret_name": name, "secret_backend": self.name, "secret_outcome": outcome, "caller": caller},
                    )
                return
            self._audited_until[key] = now + self.ttl
        access_record(action=action, name=name, backend=self.name, caller=caller, outcome=outcome, actor=actor, data=data)

    # --- writes and metadata ----------------------------------------------------------------------
    def put_secret(self, name: str, value: str, *, expected_version: str | None = None, actor=None) -> str:
        caller = caller_describe()
        try:
            version = self.backend.put_secret(name, value, expected_version=expected_version)
        except SecretError as exc:
            if isinstance(exc, SecretConflict):
                self.invalidate(name)  # someone else wrote it: what we cached is stale
            self._audit("secret.write", name, caller, type(exc).__name__, True, actor, {"problem": exc.problem})
            raise
        self.invalidate(name)
        self._audit("secret.write", name, caller, "written", True, actor, {"version": version})
        return version

    def invalidate(self, name: str | None = None) -> None:
        with self._lock:
            if name is None:
                self._cache.clear()
                self._audited_until.clear()
            else:
                self._cache.pop(name, None)
                for key in list(self._audited_until):  # list(): readers may add keys meanwhile
                    if key[0] == name:
                        self._audited_until.pop(key, None)

    def current_version(self, name: str) -> str | None:
        return self.backend.current_version(name)

    def previous_version(self, name: str) -> str | None:
        return self.backend.previous_version(name)

    def location(self, name: str) -> str:
        return self.backend.location(name)

    @property
    def supports_versions(self) -> bool:
        return self.backend.supports_versions


def backend_build(config: SecretsConfig) -> SecretManager:
    if config.backend == "env":
        # settings.py imports this package: Django apps load later
        from trading_site.secret_store.local import EnvSecretManager

        return EnvSecretManager()
    if config.backend == "file":
        # settings.py imports this package: Django apps load later
        from trading_site.secret_store.local import FileSecretManager

        return FileSecretManager(directory=config.file_dir)
    if config.backend == "vault":
        # settings.py imports this package: Django apps load later
        from trading_site.secret_store.vault import VaultSecretManager

        return VaultSecretManager(config)
    # settings.py imports this package: Django apps load later
    from trading_site.secret_store.aws import AwsSecretManager

    return AwsSecretManager(config)


def manager_build(config: SecretsConfig) -> CachedSecretManager:
    return CachedSecretManager(backend_build(config), ttl=config.cache_ttl, config=config)


# --- the process-wide instance ------------------------------------------------------------------------
_current: CachedSecretManager | None = None
_build_lock = threading.Lock()


def _after_fork_in_child() -> None:
    """Settings (and so the manager) load before Celery/gunicorn fork their workers: give each
    child its own backend connection and fresh locks; cached values stay valid."""
    global _build_lock
    _build_lock = threading.Lock()
    manager = _current
    if manager is not None:
        manager._lock = threading.Lock()
        manager.backend.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _configured_backend() -> str | None:
    from django.conf import settings

    if settings.configured:
        return settings.SECRETS_BACKEND
    return None


def secret_manager() -> CachedSecretManager:
    """The manager for the configured backend (rebuilt when ``settings.SECRETS_BACKEND`` changes)."""
    manager = _current
    backend = _configured_backend()
    if manager is not None and (backend is None or manager.name == backend):
        return manager
    with _build_lock:
        if _current is None or (backend is not None and _current.name != backend):
            manager_install(manager_build(secrets_config_from_env(backend=backend)))
        return _current


def manager_install(manager: CachedSecretManager | None) -> None:
    """Make ``manager`` the process-wide one (the settings bridge, tests); ``None`` forgets it."""
    global _current
    _current = manager
