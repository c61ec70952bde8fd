"""``/healthz`` check for the secrets layer: every secret the configuration requires is readable.

Reads go through the cache, so a poll every few seconds costs dictionary lookups, not backend
calls or audit rows (the first poll of each TTL window reads the backend). Names only, no values.
"""

from __future__ import annotations

from trading_site.secret_store.base import SecretError
from trading_site.secret_store.manager import secret_manager
from trading_site.secret_store.requirements import config_current, secret_requirements


def secrets_health() -> dict:
    manager = secret_manager()
    current = config_current()
    problems: dict[str, str] = {}
    for requirement in secret_requirements():
        if not requirement.required(current):
            continue
        try:
            manager.get_secret(requirement.name)
        except SecretError as exc:
            problems[requirement.name] = type(exc).__name__
    result = {"ok": not problems, "backend": manager.name}
    if problems:
        result["errors"] = problems
    return result
