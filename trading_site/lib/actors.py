"""Who did it: the type of the ``actor`` every audited service takes (a user, anonymous, or the system)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:  # types only: this module is imported before Django's apps are ready
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

# ``None`` is the platform itself (beat, the workflow, reconciliation), recorded as the system actor.
Actor: TypeAlias = "AbstractBaseUser | AnonymousUser | None"
