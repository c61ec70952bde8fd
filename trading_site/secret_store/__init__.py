"""Secrets layer entry point (named ``secret_store``: a top-level ``secrets`` would shadow the stdlib).

``get_secret(name)`` returns the secret's value from the configured backend or raises
:class:`SecretNotFound`. Values are never logged.
"""

from __future__ import annotations

import os


class SecretNotFound(LookupError):
    def __init__(self, name: str, backend: str) -> None:
        super().__init__(f"secret {name!r} not found in backend {backend!r}")
        self.name = name
        self.backend = backend


def get_secret(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SecretNotFound(name, "env")
    return value
