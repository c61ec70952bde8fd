"""Platform API endpoints: token issue, current user, and the JSON 404 for unknown API paths."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from trading_site.api.errors import error_body
from trading_site.lib.roles import user_role


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False)


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()


class TokenThrottle(AnonRateThrottle):
    scope = "token"
    rate = "20/min"


@extend_schema(request=TokenRequestSerializer, responses={200: TokenResponseSerializer})
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([TokenThrottle])
def token_obtain(request):
    """Exchange username and password for an API token (``Authorization: Token <t>``)."""
    serializer = TokenRequestSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    user = authenticate(
        request._request,
        username=serializer.validated_data["username"],
        password=serializer.validated_data["password"],
    )
    if user is None or not user.is_active:
        return Response(
            error_body("authentication_failed", "Unable to log in with the provided credentials."),
            status=status.HTTP_400_BAD_REQUEST,
        )
    token, _ = Token.objects.get_or_create(user=user)
    return Response({"token": token.key})


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
