"""drf-spectacular extensions so the OpenAPI schema documents our authentication classes."""

from drf_spectacular.authentication import SessionScheme, TokenScheme


class AuditedTokenScheme(TokenScheme):
    target_class = "trading_site.api.authentication.AuditedTokenAuthentication"


class AuditedSessionScheme(SessionScheme):
    target_class = "trading_site.api.authentication.AuditedSessionAuthentication"
