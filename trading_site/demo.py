"""Demo set-up for the embedded run: roles, demo users, and hooks apps add for demo data."""

from __future__ import annotations

import secrets as std_secrets
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from trading_site.accounts import roles_ensure, user_create

DEMO_USERS = ("admin", "operator", "viewer")
_demo_steps: list[tuple[str, Callable[[], str | None]]] = []


def register_demo_step(name: str, fn: Callable[[], str | None]) -> None:
    """Apps add idempotent demo-data steps (bundled bars, strategies...). ``fn`` returns a summary."""
    if name not in {n for n, _ in _demo_steps}:
        _demo_steps.append((name, fn))


def registered_demo_steps() -> list[str]:
    return [name for name, _ in _demo_steps]


def demo_password_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-password.txt"


def demo_password_known(explicit: str | None) -> str | None:
    """DEMO_PASSWORD if given, otherwise the one an earlier run kept in var/; ``None`` when neither."""
    if explicit:
        return explicit
    path = demo_password_file()
    return path.read_text().strip() if path.exists() else None


def demo_password(explicit: str | None) -> str:
    """DEMO_PASSWORD if given, otherwise one generated on first run and kept in var/ (mode 0600)."""
    known = demo_password_known(explicit)
    if known is not None:
        return known
    path = demo_password_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = std_secrets.token_urlsafe(12)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value


def demo_setup(*, password: str) -> list[str]:
    """Idempotent: creates what is missing; never resets an existing user's password."""
    notes: list[str] = []
    roles_ensure()
    User = get_user_model()
    for name in DEMO_USERS:
        if User.objects.filter(username=name).exists():
            notes.append(f"user {name} exists")
        else:
            user_create(actor=None, username=name, role=name, password=password, validate=False)
            notes.append(f"user {name} created")
    for name, fn in _demo_steps:
        summary = fn()
        notes.append(f"{name}: {summary}" if summary else name)
    return notes
