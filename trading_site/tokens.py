"""API token lifecycle: issue, list, revoke (docs/ADRs/0021-token-lifecycle-strict-input-csp.md).

A user holds several named tokens. Each has an expiry (``API_TOKEN_TTL_DAYS`` by default, at most
``API_TOKEN_MAX_TTL_DAYS``) and is bound to the password and the role its user had at issue: the
authentication (``trading_site.api.authentication``) refuses a token whose user changed password
or role since, so every path that changes them (the console, the admin, ``create_user``) revokes
the tokens without having to remember to. :func:`tokens_revoke_all` also deletes the rows when a
service changes the role, so the user's list stays true.

Only the SHA-256 digest of a key is stored (a database dump gives no usable token); the key is
returned once, by :func:`token_issue`. Issuing a token under a name the user already uses replaces
that token (a script re-running its log-in rotates its own token instead of piling up new ones).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from trading_site.audit import action_record
from trading_site.lib import clock
from trading_site.lib.roles import user_role
from trading_site.models import ApiToken

# last_used_at is written at most once a minute per token (by the authenticating query itself).
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class TokenError(ValueError):
    """A token request the service refuses (too many tokens, bad lifetime)."""


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str  # shown once


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def password_mark(user) -> str:
    """Changes whenever the user's password does (Django's session hash, an HMAC of the password hash)."""
    return user.get_session_auth_hash()


def token_is_live(token: ApiToken, *, user, role: str | None, now: dt.datetime) -> bool:
    return token.expires_at > now and token.role == (role or "") and secrets.compare_digest(
        token.password_mark, password_mark(user)
    )


@transaction.atomic
def token_issue(*, user, name: str, ttl_days: int | None = None, ip: str | None = None) -> IssuedToken:
    """A new token for ``user`` (already authenticated by the caller); replaces one of the same name."""
    ttl = settings.API_TOKEN_TTL_DAYS if ttl_days is None else ttl_days
    if not 1 <= ttl <= settings.API_TOKEN_MAX_TTL_DAYS:
        raise TokenError(f"expires_in_days must be between 1 and {settings.API_TOKEN_MAX_TTL_DAYS}")
    now = clock.now()
    ApiToken.objects.filter(user=user, name=name).delete()
    if ApiToken.objects.filter(user=user).count() >= settings.API_TOKENS_PER_USER:
        raise TokenError(
            f"at most {settings.API_TOKENS_PER_USER} tokens per user: revoke one first (DELETE /api/v1/auth/tokens/<id>/)"
        )
    key = secrets.token_urlsafe(30)
    token = ApiToken.objects.create(
        user=user, name=name, key_digest=key_digest(key), prefix=key[:8], role=user_role(user) or "",
        password_mark=password_mark(user), created_at=now, expires_at=now + dt.timedelta(days=ttl),
    )
    action_record(actor=user, action="api_token.issue", target=token,
                  data={"name": name, "expires_at": token.expires_at.isoformat(), "ip": ip or ""})
    return IssuedToken(token=token, key=key)


def tokens_of(user) -> list[ApiToken]:
    """The user's live tokens, newest first (expired and revoked-by-change ones are left out)."""
    now, role = clock.now(), user_role(user)
    return [t for t in ApiToken.objects.filter(user=user) if token_is_live(t, user=user, role=role, now=now)]


@transaction.atomic
def token_revoke(*, actor, token_id: int) -> bool:
    """Delete one of the actor's own tokens; False when the actor has no token with that id."""
    token = ApiToken.objects.filter(pk=token_id, user=actor).first()
    if token is None:
        return False
    token.delete()
    action_record(actor=actor, action="api_token.revoke", object_type="trading_site.apitoken",
                  object_id=str(token_id), data={"name": token.name})
    return True


@transaction.atomic
def tokens_revoke_all(*, actor, user, reason: str) -> int:
    """Delete every token of ``user`` (role or password changed by a service)."""
    count, _ = ApiToken.objects.filter(user=user).delete()
    if count:
        action_record(actor=actor, action="api_token.revoke_all", target=user, reason=reason, data={"count": count})
    return count
