"""Secrets for settings.py ("dual mode"): ordinary configuration comes from the environment, the
secrets (``SECRET_KEY``, the Alpaca keys, ``DATABASE_PASSWORD``) from the configured manager.

settings.py calls :func:`load_settings_secrets` once::

    from trading_site.secret_store.settings_bridge import load_settings_secrets
    _SECRETS = load_settings_secrets()
    SECRET_KEY = _SECRETS.get("SECRET_KEY", "")
    ...
    if _SECRETS.get("DATABASE_PASSWORD"):
        DATABASES["default"]["PASSWORD"] = _SECRETS["DATABASE_PASSWORD"]

The manager built here becomes the process-wide one, so the values read now are already cached
when the broker client asks for the Alpaca keys. Django apps are not loaded yet, so these reads are
logged (name, backend, caller) but not written to the audit table.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

from trading_site.lib.env import env_str
from trading_site.secret_store.base import SecretAccessDenied, SecretError, SecretNotFound
from trading_site.secret_store.conf import secrets_config_from_env
from trading_site.secret_store.manager import manager_build, manager_install
from trading_site.secret_store.requirements import secret_requirements

logger = logging.getLogger("trading_site.secrets")
# settings.py validates SECRET_KEY itself (required and >= 50 characters in production), with the
# message operators already know; the bridge only logs where it looked.
VALIDATED_BY_SETTINGS = frozenset({"SECRET_KEY"})


def _secrets_command() -> bool:
    return sys.argv[1:2] == ["secrets"]


def load_settings_secrets(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return ``{name: value}`` for the settings-time secrets that exist in the backend.

    Raises ImproperlyConfigured (naming the secrets and the backend, never a value) when a secret the
    configuration requires is missing or the backend cannot be used.
    """
    config = secrets_config_from_env(environ)
    manager = manager_build(config)
    manager_install(manager)
    current = {
        "DJANGO_ENV": env_str("DJANGO_ENV", "embedded", environ=environ),
        "BROKER": env_str("BROKER", "simulated", environ=environ),
        "SECRETS_BACKEND": config.backend,
    }
    values: dict[str, str] = {}
    missing: list[str] = []
    for requirement in secret_requirements():
        if not requirement.settings_time:
            continue
        required = requirement.required(current)
        try:
            values[requirement.name] = manager.get_secret(requirement.name)
        except SecretNotFound:
            if required and requirement.name in VALIDATED_BY_SETTINGS:
                logger.error("required secret %s not found at %s", requirement.name, manager.location(requirement.name))
            elif required:
                missing.append(f"{requirement.name} ({manager.location(requirement.name)})")
        except SecretAccessDenied as exc:
            if required:
                raise ImproperlyConfigured(str(exc)) from None
            logger.warning("optional secret %s not readable: %s", requirement.name, exc.problem)
        except SecretError as exc:
            raise ImproperlyConfigured(str(exc)) from None
    if missing and _secrets_command():
        # `manage.py secrets check|rotate` must run precisely when a secret is missing.
        logger.error("required secrets missing from backend %r: %s", config.backend, ", ".join(missing))
    elif missing:
        raise ImproperlyConfigured(
            f"required secrets missing from backend {config.backend!r}: {', '.join(missing)}"
            " (run `manage.py secrets check` for the full list)"
        )
    return values
