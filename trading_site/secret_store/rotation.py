"""Secret rotation: verify a candidate, write it as a new version, check it reads back, record it.

Order of operations (docs/RUNBOOKS/secret-rotation.md):
0. Note each secret's current version and value (for the conditional write and for restoring).
1. Verify the candidate *before* writing — the Alpaca key pair with an account call, the database
   password with a connection. A failed verification writes nothing, so the old version stays
   current.
2. Write the new version(s), conditional on the noted version (Vault KV v2 check-and-set; a
   best-effort check on AWS) — a concurrent change fails the rotation with SecretConflict. Vault
   and AWS keep the previous version for rollback.
3. Read each back bypassing the cache; a mismatch restores the previous value(s) as the current
   version.
4. Record one ``secret.rotate`` ActionLog row per name (backend, new and previous version ids, how
   it was verified) in the same transaction; :func:`secret_last_rotated` reads those rows and is
   what preflight's 90-day check uses.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.db import transaction

from trading_site.secret_store.base import (
    SecretBackendError,
    SecretNotFound,
    SecretVerificationFailed,
    secret_name_validate,
)
from trading_site.secret_store.conf import alpaca_base_url
from trading_site.secret_store.manager import CachedSecretManager, access_record, caller_describe, secret_manager

ALPACA_PAIR = ("ALPACA_API_KEY", "ALPACA_SECRET_KEY")
ROTATE_ACTION = "secret.rotate"
ROLLBACK_ACTION = "secret.rollback"
ROTATE_FAILED_ACTION = "secret.rotate_failed"


@dataclass(frozen=True)
class RotationResult:
    name: str
    backend: str
    version: str
    previous_version: str | None
    verified_by: str
    rotated_at: dt.datetime


# --- verifiers ----------------------------------------------------------------------------------------
def alpaca_credentials_verify(*, api_key: str, secret_key: str, backend: str = "-") -> None:
    """An account call through alpaca-py's TradingClient; raises SecretVerificationFailed."""
    from alpaca.common.exceptions import APIError
    from alpaca.trading.client import TradingClient
    from django.conf import settings

    client = TradingClient(
        api_key=api_key,
        secret_key=secret_key,
        paper=getattr(settings, "ALPACA_PAPER", True),
        url_override=alpaca_base_url() or None,
    )
    try:
        client.get_account()
    except APIError as exc:
        raise SecretVerificationFailed(
            "ALPACA_API_KEY", backend, f"Alpaca refused the key pair (HTTP {exc.status_code})"
        ) from None
    except Exception as exc:  # network errors, unexpected payloads: not verified either way
        raise SecretVerificationFailed(
            "ALPACA_API_KEY", backend, f"Alpaca account call failed ({type(exc).__name__})"
        ) from None


def database_password_verify(*, password: str, backend: str = "-") -> None:
    """Connect to the configured PostgreSQL database with the candidate password."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    if "postgresql" not in db["ENGINE"]:
        raise SecretVerificationFailed("DATABASE_PASSWORD", backend, "only PostgreSQL passwords can be verified")
    try:
        psycopg.connect(
            host=db.get("HOST") or "127.0.0.1",
            port=db.get("PORT") or 5432,
            dbname=db["NAME"],
            user=db.get("USER") or "",
            password=password,
            connect_timeout=5,
        ).close()
    except psycopg.Error as exc:
        raise SecretVerificationFailed(
            "DATABASE_PASSWORD", backend, f"database connection refused ({type(exc).__name__})"
        ) from None


def _verify(candidates: Mapping[str, str], manager: CachedSecretManager) -> dict[str, str]:
    """Run the verifiers the candidates need; returns ``{name: how it was verified}``."""
    how: dict[str, str] = {}
    if any(name in candidates for name in ALPACA_PAIR):
        pair = {}
        for name in ALPACA_PAIR:
            pair[name] = candidates[name] if name in candidates else manager.get_secret(name, fresh=True)
        alpaca_credentials_verify(api_key=pair["ALPACA_API_KEY"], secret_key=pair["ALPACA_SECRET_KEY"], backend=manager.name)
        how.update({name: "alpaca account call" for name in ALPACA_PAIR if name in candidates})
    if "DATABASE_PASSWORD" in candidates:
        database_password_verify(password=candidates["DATABASE_PASSWORD"], backend=manager.name)
        how["DATABASE_PASSWORD"] = "database connection"
    for name in candidates:
        how.setdefault(name, "read back")
    return how


# --- services -----------------------------------------------------------------------------------------
def secret_rotate(
    *,
    values: Mapping[str, str],
    actor=None,
    reason: str = "",
    manager: CachedSecretManager | None = None,
    verify: Callable[[Mapping[str, str], CachedSecretManager], dict[str, str]] = _verify,
) -> list[RotationResult]:
    """Rotate one or more secrets (the Alpaca key id and secret are rotated together)."""
    # settings.py imports this package: Django apps load later
    from trading_site.lib import clock

    manager = manager or secret_manager()
    if not values:
        raise SecretBackendError("-", manager.name, "nothing to rotate")
    for name, value in values.items():
        secret_name_validate(name, manager.name)
        if not isinstance(value, str) or not value.strip():
            raise SecretBackendError(name, manager.name, "the new value is empty")
        if value != value.strip():
            raise SecretBackendError(name, manager.name, "the new value has leading or trailing whitespace")
    if not manager.supports_versions:
        name = next(iter(values))
        raise SecretBackendError(
            name, manager.name, "this backend keeps no versions; rotate at the source (env var or mounted file)"
        )
    caller = caller_describe()
    # Snapshot first: the writes below are conditional on these versions, so a concurrent write
    # during the (slow) verification makes this rotation fail instead of overwriting it.
    previous: dict[str, tuple[str | None, str | None]] = {}
    for name in values:
        try:
            previous[name] = (manager.current_version(name), manager.get_secret(name, fresh=True, actor=actor))
        except SecretNotFound:
            previous[name] = (None, None)
    try:
        how = verify(values, manager)
    except (SecretVerificationFailed, SecretNotFound) as exc:
        for name in values:
            access_record(
                action=ROTATE_FAILED_ACTION, name=name, backend=manager.name, caller=caller,
                outcome="verification_failed", actor=actor, data={"problem": exc.problem},
            )
        raise

    written: list[str] = []
    versions: dict[str, str] = {}
    try:
        for name, value in values.items():
            versions[name] = manager.put_secret(name, value, expected_version=previous[name][0] or "0", actor=actor)
            written.append(name)
            if not hmac.compare_digest(manager.get_secret(name, fresh=True, actor=actor), value):
                raise SecretVerificationFailed(name, manager.name, "the new version did not read back as written")
    except Exception:
        _restore(manager, written, previous, actor)
        raise

    now = clock.now()
    results = []
    # settings.py imports this package: Django apps load later
    from trading_site.audit import action_record

    with transaction.atomic():
        for name in values:
            result = RotationResult(
                name=name, backend=manager.name, version=versions[name],
                previous_version=previous[name][0], verified_by=how[name], rotated_at=now,
            )
            action_record(
                actor=actor, action=ROTATE_ACTION, object_type="secret", object_id=name, reason=reason,
                data={
                    "backend": manager.name, "caller": caller, "version": result.version,
                    "previous_version": result.previous_version, "verified_by": result.verified_by,
                },
            )
            results.append(result)
    return results


def _restore(manager: CachedSecretManager, written: list[str], previous: dict, actor) -> None:
    """Make the previous value current again for every name already written."""
    for name in written:
        old_value = previous[name][1]
        if old_value is not None:
            manager.put_secret(name, old_value, actor=actor)


def secret_rollback(*, name: str, actor=None, reason: str = "", manager: CachedSecretManager | None = None) -> RotationResult:
    """Write the previous version's value as the new current version (KV v2 / AWS history)."""
    # settings.py imports this package: Django apps load later
    from trading_site.audit import action_record

    # settings.py imports this package: Django apps load later
    from trading_site.lib import clock

    manager = manager or secret_manager()
    secret_name_validate(name, manager.name)
    if not manager.supports_versions:
        raise SecretBackendError(name, manager.name, "this backend keeps no versions to roll back to")
    current = manager.current_version(name)
    previous = manager.previous_version(name)
    if previous is None:
        raise SecretNotFound(name, manager.name, "no previous version to roll back to")
    value = manager.get_secret(name, version=previous, actor=actor)
    version = manager.put_secret(name, value, expected_version=current, actor=actor)
    now = clock.now()
    with transaction.atomic():
        action_record(
            actor=actor, action=ROLLBACK_ACTION, object_type="secret", object_id=name, reason=reason,
            data={"backend": manager.name, "version": version, "restored_version": previous, "replaced_version": current},
        )
    return RotationResult(
        name=name, backend=manager.name, version=version, previous_version=current,
        verified_by=f"copy of version {previous}", rotated_at=now,
    )


def secret_last_rotated(*, name: str) -> dt.datetime | None:
    """The last ``secrets rotate`` of ``name`` (rollbacks do not reset the 90-day clock)."""
    # settings.py imports this package: Django apps load later
    from trading_site.models import ActionLog

    return (
        ActionLog.objects.filter(action=ROTATE_ACTION, object_type="secret", object_id=name)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
