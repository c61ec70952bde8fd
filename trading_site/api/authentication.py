"""DRF authentication that also tells django-auditlog who the actor is.

auditlog's middleware reads ``request.user`` before DRF authenticates, so token-authenticated
requests would otherwise be logged without an actor. After a successful authentication we put the
user into auditlog's per-request context.
"""

from __future__ import annotations

import datetime as dt
import functools

from auditlog.context import auditlog_value
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication, TokenAuthentication

from trading_site.lib import clock
from trading_site.lib.roles import role_remember, role_select_sql, user_role
from trading_site.tokens import LAST_USED_RESOLUTION, key_digest, token_is_live

# DRF imports this module while loading its settings, which can happen before the app registry is
# ready (anything importing rest_framework.views early): models, and modules that import models
# (the token service, allauth's adapter), are imported when first used, not here.


@functools.cache
def _token_user_sql(vendor: str) -> tuple[str, tuple[str, ...]]:
    """The user of a token with the user's role and the token's row, as SQL and the role parameters.

    On PostgreSQL one statement also records the token's use (a data-modifying CTE, at most once per
    ``LAST_USED_RESOLUTION``); its parameters after the roles: now, ip, digest, stale-before, digest.
    Elsewhere (SQLite, the embedded run) the SELECT alone; its parameter after the roles: digest.
    """
    from trading_site.models import ApiToken  # not at import: see the note at the imports

    user_t, token_t = get_user_model()._meta.db_table, ApiToken._meta.db_table
    role_sql, role_params = role_select_sql("u.id")
    select = (
        f"SELECT u.*, {role_sql} AS trading_role, t.id AS token_id, t.name AS token_name, "
        f"t.role AS token_role, t.password_mark AS token_mark, t.expires_at AS token_expires_at, "
        f"t.last_used_at AS token_last_used_at "
        f"FROM {token_t} t JOIN {user_t} u ON u.id = t.user_id WHERE t.key_digest = %s"
    )
    if vendor == "postgresql":
        touch = (
            f"WITH touched AS (UPDATE {token_t} SET last_used_at = %s, last_used_ip = %s "
            f"WHERE key_digest = %s AND (last_used_at IS NULL OR last_used_at < %s) RETURNING id) "
        )
        return touch + select, tuple(role_params)
    return select, tuple(role_params)


def _db_datetime(value):
    """A datetime column read by a raw query: SQLite hands back naive UTC (or text) since the ORM's
    converters only apply to model fields; PostgreSQL hands back an aware datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    return value.replace(tzinfo=dt.UTC) if timezone.is_naive(value) else value


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
        #
        # ApiToken (trading_site.tokens): only the key's digest is stored; the token counts only
        # until it expires and while the user keeps the password and role it was issued under.
        from trading_site.models import ApiToken  # not at import: see the note at the imports

        vendor = connection.vendor
        sql, role_params = _token_user_sql(vendor)
        digest, now = key_digest(key), clock.now()
        if vendor == "postgresql":
            params = [now, self._ip, digest, now - LAST_USED_RESOLUTION, *role_params, digest]
        else:
            params = [*role_params, digest]
        user = next(iter(get_user_model().objects.raw(sql, params)), None)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        role_remember(user, user.trading_role)
        token = ApiToken(
            id=user.token_id, user=user, name=user.token_name, role=user.token_role,
            password_mark=user.token_mark, expires_at=_db_datetime(user.token_expires_at),
            last_used_at=_db_datetime(user.token_last_used_at),
        )
        if token.expires_at <= now:
            raise exceptions.AuthenticationFailed(_("Token expired."))
        if not token_is_live(token, user=user, role=user_role(user), now=now):
            raise exceptions.AuthenticationFailed(_("Token revoked: the password or role changed since it was issued."))
        if vendor != "postgresql" and (token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=self._ip)
        return (user, token)

    def authenticate(self, request):
        from trading_site.lib.clientip import client_ip  # not at import: see the note at the imports

        self._ip = client_ip(getattr(request, "_request", request))
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
