"""Domain errors: business-rule refusals raised by services, with no knowledge of HTTP.

A domain error carries a machine-readable ``code`` (``KILL_SWITCH_ENGAGED``, ``MAX_ORDER_NOTIONAL``...),
a ``detail`` for people, optional per-field messages, and a ``kind`` saying what sort of refusal it
is. The API maps kinds to HTTP statuses in one place (``trading_site.api.errors.HTTP_STATUS``); the
console turns them into messages; commands into exit messages. Subclass the kind that fits.
"""

from __future__ import annotations

from typing import ClassVar, Literal

Kind = Literal["invalid", "refused", "not_found", "conflict", "unprocessable", "rate_limited", "upstream",
               "unavailable"]
KINDS: tuple[Kind, ...] = ("invalid", "refused", "not_found", "conflict", "unprocessable", "rate_limited",
                           "upstream", "unavailable")


class DomainError(Exception):
    """A business-rule refusal. Subclasses set ``code`` and ``kind`` (default: a conflict with the state)."""

    code: ClassVar[str] = "domain_error"
    kind: ClassVar[Kind] = "conflict"

    def __init__(self, detail: str, *, code: str | None = None, fields: dict | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code  # type: ignore[misc]  (per-instance code)
        self.fields = fields


class InvalidInput(DomainError):
    """The request itself is wrong (bad value, unknown option)."""

    kind = "invalid"


class Refused(DomainError):
    """Not allowed for this actor or in this state of the controls (kill switch, role)."""

    kind = "refused"


class NotFoundError(DomainError):
    """The thing named does not exist."""

    kind = "not_found"


class Conflict(DomainError):
    """Conflicts with the current state (already done, not cancelable, duplicate id)."""

    kind = "conflict"


class Unprocessable(DomainError):
    """Well-formed but refused by a rule (pre-trade checks, broker rejections)."""

    kind = "unprocessable"


class RateLimitedError(DomainError):
    """Too many requests: try again later."""

    kind = "rate_limited"


class UpstreamError(DomainError):
    """A service we depend on answered wrongly (the broker's 5xx)."""

    kind = "upstream"


class UnavailableError(DomainError):
    """A service we depend on did not answer (outage, breaker open)."""

    kind = "unavailable"
