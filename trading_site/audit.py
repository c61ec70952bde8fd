"""Audit services: explicit action entries and the actor that django-auditlog records.

- :func:`action_record` writes an :class:`ActionLog` row. Call it inside the same transaction as
  the change it describes, so the action and its record commit or roll back together.
- :func:`system_user` is the actor for Celery tasks and management commands; :func:`system_actor`
  sets it for django-auditlog (Celery tasks get it automatically from ``trading_site.celery``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from auditlog.context import auditlog_value, set_actor
from django.contrib.auth import get_user_model

from trading_site.lib import clock
from trading_site.logging import request_id_var
from trading_site.models import ActionLog

SYSTEM_USERNAME = "system"


def system_user():
    """The service account recorded as actor for unattended work. It cannot log in."""
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"is_active": False, "first_name": "System"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


@contextlib.contextmanager
def system_actor() -> Iterator[None]:
    # auditlog's set_actor() leaves its ContextVar pointing at the actor after the block; restore
    # the previous value so a later action in the same thread cannot pick up a stale user.
    token = auditlog_value.set({})
    try:
        with set_actor(system_user()):
            yield
    finally:
        auditlog_value.reset(token)


def action_record(
    *,
    actor,
    action: str,
    target: object | None = None,
    object_type: str = "",
    object_id: str = "",
    reason: str = "",
    data: dict | None = None,
) -> ActionLog:
    """Record an action. ``actor`` is a user or ``None`` for the system."""
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or str(target.pk)
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return ActionLog.objects.create(
        created_at=clock.now(),
        actor=actor if actor is not None else system_user(),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        reason=reason,
        data=data or {},
        request_id=request_id_var.get() if request_id_var.get() != "-" else "",
    )
