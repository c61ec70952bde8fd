"""DRF authentication that also tells django-auditlog who the actor is.

auditlog's middleware reads ``request.user`` before DRF authenticates, so token-authenticated
requests would otherwise be logged without an actor. After a successful authentication we put the
user into auditlog's per-request context.
"""

from __future__ import annotations

import functools

from auditlog.context import auditlog_value
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication, TokenAuthentication

from trading_site.lib.roles import role_remember, role_select_sql


@functools.cache
def _token_user_sql() -> tuple[str, tuple[str, ...]]:
    """The user of a token with the user's role, as SQL and the role parameters (the key follows)."""
    from rest_framework.authtoken.models import Token

    user_t, token_t = get_user_model()._meta.db_table, Token._meta.db_table
    role_sql, role_params = role_select_sql("u.id")
    sql = (
        f"SELECT u.*, {role_sql} AS trading_role "
        f"FROM {token_t} t JOIN {user_t} u ON u.id = t.user_id WHERE t.key = %s"
    )
    return sql, tuple(role_params)


def _set_auditlog_actor(user) -> None:
    try:
        context = auditlog_value.get()
    except LookupError:
        return
    if context.get("actor") is None:
        context["actor"] = user


class AuditedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        # DRF's lookup (token → active user) with the user's role in the same query: one plain SQL
        # statement instead of two ORM queries (the ORM's query building was most of an order
        # request's authentication cost).
        sql, role_params = _token_user_sql()
        user = next(iter(get_user_model().objects.raw(sql, [*role_params, key])), None)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        role_remember(user, user.trading_role)
        return (user, self.get_model()(key=key, user=user))

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            _set_auditlog_actor(result[0])
        return result


class AuditedSessionAuthentication(SessionAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            _set_auditlog_actor(result[0])
        return result


# Registers the OpenAPI descriptions of the classes above (drf-spectacular discovers extensions on import).
from trading_site.api import schema as _schema  # noqa: E402,F401
