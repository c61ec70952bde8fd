"""DRF authentication that also tells django-auditlog who the actor is.

auditlog's middleware reads ``request.user`` before DRF authenticates, so token-authenticated
requests would otherwise be logged without an actor. After a successful authentication we put the
user into auditlog's per-request context.
"""

from __future__ import annotations

from auditlog.context import auditlog_value
from rest_framework.authentication import SessionAuthentication, TokenAuthentication


def _set_auditlog_actor(user) -> None:
    try:
        context = auditlog_value.get()
    except LookupError:
        return
    if context.get("actor") is None:
        context["actor"] = user


class AuditedTokenAuthentication(TokenAuthentication):
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
