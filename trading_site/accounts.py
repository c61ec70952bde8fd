"""User and role services (used by ``create_user``, ``setup_demo`` and the admin)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from trading_site.audit import action_record
from trading_site.lib.roles import ADMIN, ROLES
from trading_site.tokens import tokens_revoke_all


def roles_ensure() -> dict[str, Group]:
    return {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}


@transaction.atomic
def user_create(*, actor, username: str, role: str, password: str, validate: bool = True):
    """Create a user with exactly one role. Raises ValueError / ValidationError on bad input."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValueError(f"user {username!r} already exists")
    # The admin role manages users and corrections in the Django admin: staff + superuser.
    user = User(username=username, is_staff=role == ADMIN, is_superuser=role == ADMIN)
    if validate:
        validate_password(password, user)
    user.set_password(password)
    user.save()
    user.groups.set([roles_ensure()[role]])
    action_record(actor=actor, action="user.create", target=user, data={"role": role})
    return user


@transaction.atomic
def user_set_role(*, actor, user, role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    user.groups.set([roles_ensure()[role]])
    user.is_staff = user.is_superuser = role == ADMIN
    user.save(update_fields=["is_staff", "is_superuser"])
    action_record(actor=actor, action="user.set_role", target=user, data={"role": role})
    # Tokens were issued for the old role (authentication refuses them anyway); drop the rows too.
    tokens_revoke_all(actor=actor, user=user, reason=f"role set to {role}")
