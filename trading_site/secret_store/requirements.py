"""Which secrets the current configuration needs, and why.

Apps that introduce a secret add it with :func:`secret_requirement_register` from their
``AppConfig.ready()``; ``manage.py secrets check`` and the settings bridge read this list.
``required`` is evaluated against a plain mapping of configuration values (``DJANGO_ENV``,
``BROKER``, ...) so it works both while settings load and afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SecretRequirement:
    name: str
    purpose: str
    required: Callable[[Mapping[str, str]], bool]
    #: loaded by the settings bridge while settings.py runs
    settings_time: bool = False


def _production(config: Mapping[str, str]) -> bool:
    return config.get("DJANGO_ENV", "embedded") == "production"


def _alpaca(config: Mapping[str, str]) -> bool:
    return config.get("BROKER", "simulated") == "alpaca"


def _never(config: Mapping[str, str]) -> bool:
    return False


_REGISTRY: dict[str, SecretRequirement] = {}


def secret_requirement_register(
    name: str, *, purpose: str, required: Callable[[Mapping[str, str]], bool], settings_time: bool = False
) -> None:
    _REGISTRY[name] = SecretRequirement(name=name, purpose=purpose, required=required, settings_time=settings_time)


secret_requirement_register(
    "SECRET_KEY", purpose="Django signing key (sessions, CSRF)", required=_production, settings_time=True
)
secret_requirement_register(
    "ALPACA_API_KEY", purpose="Alpaca API key id for the broker client", required=_alpaca, settings_time=True
)
secret_requirement_register(
    "ALPACA_SECRET_KEY", purpose="Alpaca API secret for the broker client", required=_alpaca, settings_time=True
)
secret_requirement_register(
    "DATABASE_PASSWORD",
    purpose="database password, when not part of DATABASE_URL (optional)",
    required=_never,
    settings_time=True,
)


def secret_requirements() -> list[SecretRequirement]:
    return list(_REGISTRY.values())


def config_current() -> dict[str, str]:
    """The configuration values the ``required`` predicates look at, from Django settings."""
    from django.conf import settings

    return {
        "DJANGO_ENV": getattr(settings, "DJANGO_ENV", "embedded"),
        "BROKER": getattr(settings, "BROKER", "simulated"),
        "SECRETS_BACKEND": getattr(settings, "SECRETS_BACKEND", "env"),
    }


@dataclass(frozen=True)
class SecretStatus:
    name: str
    purpose: str
    required: bool
    source: str
    status: str  # present | missing | denied | error
    problem: str
    version: str | None
    last_rotated: str | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def secret_status_list(*, manager=None) -> list[SecretStatus]:
    """Each secret the configuration knows about: where it comes from and whether it is readable.

    Reads bypass the cache (and are audited like any backend read); values are discarded at once.
    """
    # settings.py imports this package: Django apps load later
    from trading_site.secret_store.base import SecretAccessDenied, SecretError, SecretNotFound

    # settings.py imports this package: Django apps load later
    from trading_site.secret_store.manager import secret_manager

    # settings.py imports this package: Django apps load later
    from trading_site.secret_store.rotation import secret_last_rotated

    manager = manager or secret_manager()
    current = config_current()
    rows = []
    for requirement in secret_requirements():
        status, problem, version = "present", "", None
        try:
            manager.get_secret(requirement.name, fresh=True)
        except SecretNotFound as exc:
            status, problem = "missing", exc.problem
        except SecretAccessDenied as exc:
            status, problem = "denied", exc.problem
        except SecretError as exc:
            status, problem = "error", exc.problem
        if status == "present" and manager.supports_versions:
            try:
                version = manager.current_version(requirement.name)
            except SecretError:
                version = None
        rotated = secret_last_rotated(name=requirement.name)
        rows.append(
            SecretStatus(
                name=requirement.name,
                purpose=requirement.purpose,
                required=requirement.required(current),
                source=manager.location(requirement.name),
                status=status,
                problem=problem,
                version=version,
                last_rotated=rotated.isoformat() if rotated else None,
            )
        )
    return rows
