"""One JSON error shape for every API error: ``{"code", "detail", "fields"?}``.

``code`` is machine-readable (``validation_error``, ``not_authenticated``, ``permission_denied``,
``not_found``, ``payload_too_large``, ``service_unavailable`` (503 with ``Retry-After`` while the
database, Redis or the task queue is unreachable), or a domain code such as ``KILL_SWITCH_ENGAGED``).
Domain exceptions (:mod:`trading_site.lib.errors`) carry a ``kind``; :data:`HTTP_STATUS` maps it to HTTP here, in one place.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from trading_site.lib.errors import KINDS, DomainError
from trading_site.lib.outages import RETRY_AFTER_SECONDS, unavailable_detail, unavailable_service

logger = logging.getLogger(__name__)


# The one mapping of domain-error kinds (trading_site.lib.errors) to HTTP statuses.
HTTP_STATUS: dict[str, int] = {
    "invalid": status.HTTP_400_BAD_REQUEST,
    "refused": status.HTTP_403_FORBIDDEN,
    "not_found": status.HTTP_404_NOT_FOUND,
    "conflict": status.HTTP_409_CONFLICT,
    "unprocessable": status.HTTP_422_UNPROCESSABLE_ENTITY,
    "rate_limited": status.HTTP_429_TOO_MANY_REQUESTS,
    "upstream": status.HTTP_502_BAD_GATEWAY,
    "unavailable": status.HTTP_503_SERVICE_UNAVAILABLE,
}
assert set(HTTP_STATUS) == set(KINDS), "every domain-error kind has an HTTP status"


def http_status_of(exc: DomainError) -> int:
    return HTTP_STATUS[exc.kind]


def error_body(code: str, detail: str, fields: dict | None = None) -> dict:
    body = {"code": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return body


def _flatten(detail) -> object:
    if isinstance(detail, dict):
        return {k: _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        flat = [_flatten(v) for v in detail]
        return [str(v) for v in flat] if all(not isinstance(v, dict | list) for v in flat) else flat
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.detail, exc.fields), status=http_status_of(exc))
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("payload_too_large", "The request body is too large."),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    service = unavailable_service(exc)
    if service is not None:
        logger.warning("API request failed: the %s is unavailable (%s: %s)", service, type(exc).__name__, exc)
        return Response(error_body("service_unavailable", unavailable_detail(service)),
                        status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected error: Django's 500 handling (logged with the request id)

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            non_field = detail.get("non_field_errors")
            fields = {k: v for k, v in _flatten(detail).items() if k != "non_field_errors"}
            message = "; ".join(str(m) for m in non_field) if non_field else "Invalid input."
            response.data = error_body("validation_error", message, fields or None)
        else:
            messages = _flatten(detail)
            text = "; ".join(messages) if isinstance(messages, list) else str(messages)
            response.data = error_body("validation_error", text or "Invalid input.")
    else:
        code = getattr(exc, "default_code", "error")
        codes = exc.get_codes() if hasattr(exc, "get_codes") else code
        if isinstance(codes, str):
            code = codes
        detail = exc.detail if hasattr(exc, "detail") else str(exc)
        response.data = error_body(code, str(detail))
    return response


def json_error(code: str, detail: str, status_code: int) -> JsonResponse:
    """For plain Django views under /api/ (e.g. the API 404 fallback)."""
    return JsonResponse(error_body(code, detail), status=status_code)
