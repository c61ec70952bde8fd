"""Roles as Django groups: viewer (read-only) < operator (trade, toggle) < admin (resets, users).

A user's role is the highest group they belong to; superusers are admins. Views use
:func:`role_required`, DRF views the permission classes in ``trading_site.api.permissions``;
templates get ``user_role`` and ``can_*`` flags from the context processor.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

VIEWER = "viewer"
OPERATOR = "operator"
ADMIN = "admin"
ROLES = (VIEWER, OPERATOR, ADMIN)
_RANK = {VIEWER: 1, OPERATOR: 2, ADMIN: 3}


def user_role(user) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser:
        return ADMIN
    cached = getattr(user, "_trading_role", False)
    if cached is not False:
        return cached
    names = set(user.groups.values_list("name", flat=True))
    role = max((r for r in ROLES if r in names), key=_RANK.__getitem__, default=None)
    user._trading_role = role
    return role


def role_select_sql(user_id_column: str) -> tuple[str, list[str]]:
    """SQL (and its parameters) of a scalar subquery: the highest role name of the user whose id is
    ``user_id_column``, or NULL. Lets a query that loads the user anyway (API token authentication)
    carry the role, instead of a second query; pass the value to :func:`role_remember`."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    through = get_user_model().groups.through._meta
    group_t, through_t = Group._meta.db_table, through.db_table
    names = ", ".join(["%s"] * len(ROLES))
    ranks = " ".join(f"WHEN %s THEN {n}" for n in _RANK.values())
    sql = (
        f"(SELECT g.name FROM {group_t} g JOIN {through_t} ug ON ug.group_id = g.id "
        f"WHERE ug.user_id = {user_id_column} AND g.name IN ({names}) "
        f"ORDER BY CASE g.name {ranks} END DESC LIMIT 1)"
    )
    return sql, [*ROLES, *_RANK]  # parameters in the order of the placeholders: IN (...), then CASE


def role_remember(user, role: str | None) -> None:
    """Record the role loaded with the user (see :func:`role_select_sql`) for this request."""
    user._trading_role = role if role in _RANK else None


def has_role(user, role: str) -> bool:
    current = user_role(user)
    return current is not None and _RANK[current] >= _RANK[role]


def role_required(role: str) -> Callable:
    """Login required, then at least ``role``; otherwise 403."""
    if role not in _RANK:
        raise ValueError(f"unknown role {role!r}")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, role):
                raise PermissionDenied(f"This needs the {role} role.")
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator


def role_context(request) -> dict:
    """Template context processor."""
    user = getattr(request, "user", None)
    return {
        "user_role": user_role(user),
        "can_view": has_role(user, VIEWER),
        "can_trade": has_role(user, OPERATOR),
        "can_admin": has_role(user, ADMIN),
    }
