"""Platform API endpoints: token issue, current user, and the JSON 404 for unknown API paths."""

from __future__ import annotations

from allauth.account.adapter import get_adapter
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from trading_site.api.errors import error_body
from trading_site.audit import action_record
from trading_site.lib.clientip import client_ip
from trading_site.lib.roles import user_role
from trading_site.tokens import TokenError, token_issue, token_revoke, tokens_of


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False)
    name = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,59}$", max_length=60, default="default",
                                  help_text="the token's name; issuing under a name you already use replaces that token")
    expires_in_days = serializers.IntegerField(min_value=1, max_value=3650, required=False,
                                               help_text="lifetime; default API_TOKEN_TTL_DAYS, at most API_TOKEN_MAX_TTL_DAYS")


class TokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="the key's first characters")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="to the minute")


class TokenResponseSerializer(TokenSerializer):
    token = serializers.CharField(help_text="the key, shown only now: send it as `Authorization: Token <key>`")


class TokenThrottle(AnonRateThrottle):
    scope = "token"
    rate = "20/min"


@extend_schema(request=TokenRequestSerializer, responses={200: TokenResponseSerializer})
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([TokenThrottle])
def token_obtain(request):
    """Exchange username and password for a named API token (``Authorization: Token <key>``).

    The same door as the console's log-in: allauth's authentication with its failed-attempt limits
    per client address and per account (``LOGIN_RATE_LIMIT``); a locked account gets 429 even with
    the right password. Failed and refused attempts are in the action log.
    """
    serializer = TokenRequestSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    adapter = get_adapter(request._request)
    ip = client_ip(request._request)
    if ip is None:
        # No address to count attempts against (a request that did not come through the NUM_PROXIES
        # proxies): refused rather than let through unlimited.
        return Response(error_body("permission_denied", "No client address: the request must come through the "
                                   "configured proxies."), status=status.HTTP_403_FORBIDDEN)
    try:
        user = adapter.authenticate(request._request, username=data["username"], password=data["password"])
    except DjangoValidationError:
        # allauth's pre_authenticate: too many failed attempts from this address or for this account.
        action_record(actor=None, action="api_token.refused", reason="too many failed log-in attempts",
                      data={"username": data["username"], "ip": ip})
        return Response(error_body("too_many_login_attempts", "Too many failed log-in attempts: try again later."),
                        status=status.HTTP_429_TOO_MANY_REQUESTS)
    if user is None or not user.is_active:
        return Response(
            error_body("authentication_failed", "Unable to log in with the provided credentials."),
            status=status.HTTP_400_BAD_REQUEST,
        )
    try:
        issued = token_issue(user=user, name=data["name"], ttl_days=data.get("expires_in_days"), ip=ip)
    except TokenError as exc:
        return Response(error_body("validation_error", str(exc), {"expires_in_days": [str(exc)]}
                                   if "expires_in_days" in str(exc) else None),
                        status=status.HTTP_400_BAD_REQUEST)
    return Response({**TokenSerializer(issued.token).data, "token": issued.key})


@extend_schema(responses={200: TokenSerializer(many=True)})
@api_view(["GET"])
@permission_classes([IsAuthenticated])  # every user manages their own tokens, whatever the role
def token_list(request):
    """Your live API tokens (never the keys): name, expiry and last use."""
    return Response(TokenSerializer(tokens_of(request.user), many=True).data)


@extend_schema(responses={204: OpenApiResponse(description="revoked")})
@api_view(["DELETE"])
@permission_classes([IsAuthenticated])
def token_delete(request, token_id: int):
    """Revoke one of your own API tokens (also the one making this request)."""
    if not token_revoke(actor=request.user, token_id=token_id):
        return Response(error_body("not_found", "You have no token with this id."), status=status.HTTP_404_NOT_FOUND)
    return Response(status=status.HTTP_204_NO_CONTENT)


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.CharField(allow_null=True)


@extend_schema(responses={200: MeSerializer})
@api_view(["GET"])
def me(request):
    """The authenticated user and their role."""
    return Response({"username": request.user.get_username(), "role": user_role(request.user)})


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_found(request, path=""):
    return Response(error_body("not_found", "No such API endpoint."), status=status.HTTP_404_NOT_FOUND)
