"""The OpenAPI schema documents every error answer (``DEFAULT_SCHEMA_CLASS``).

:class:`ProjectAutoSchema` adds the project's error responses (the ``Error`` component, the shape of
``trading_site.api.errors.error_body``) to each operation according to what can happen to it:
401/403 for authenticated operations, 400/413/415 for a request body, 400 for query parameters, 404
for path parameters, 409/422 for writes (domain refusals), 429 for throttled views. A view's own
``@extend_schema`` responses win over these. (Kept apart from ``schema.py``, which the
authentication module imports: drf-spectacular's AutoSchema imports DRF's views.)
"""

from __future__ import annotations

import functools

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class ErrorSerializer(serializers.Serializer):
    """Every API error: a machine-readable code, a sentence, and per-field messages when fields are at fault."""

    code = serializers.CharField(help_text="e.g. validation_error, not_authenticated, permission_denied, "
                                           "not_found, throttled, KILL_SWITCH_ENGAGED")
    detail = serializers.CharField()
    fields = serializers.DictField(child=serializers.JSONField(), required=False,
                                   help_text="field name → messages (validation errors)")

    class Meta:
        ref_name = "Error"


ERROR_DESCRIPTIONS = {
    "400": "Invalid input (``fields`` names each field at fault).",
    "401": "Not authenticated, or the token is invalid, expired or revoked.",
    "403": "The role does not allow this.",
    "404": "No such object.",
    "409": "Refused by a business rule (e.g. a duplicate or a state conflict).",
    "413": "The request body is too large.",
    "415": "The body is not JSON.",
    "422": "Refused by a risk or trading rule (e.g. the kill switch).",
    "429": "Too many requests, or too many failed log-in attempts.",
}


class ProjectAutoSchema(AutoSchema):
    def _error_codes(self) -> list[str]:
        public = any(isinstance(p, AllowAny) for p in self.view.get_permissions())
        has_body = self.method in ("POST", "PUT", "PATCH")
        codes = ["403"] if public else ["401", "403"]  # public: the token door without a client address
        # Query parameters, and any body, can be invalid; unknown query parameters are ignored.
        codes.append("400")
        if has_body:
            codes += ["413", "415"]
        if "{" in self.path or self.method == "GET":  # a path object, or a list page, not found
            codes.append("404")
        if self.method not in ("GET", "HEAD", "OPTIONS") and not public:
            codes += ["409", "422"]
        codes.append("429")
        return codes

    def get_operation_id(self):
        operation_id = super().get_operation_id()
        # A page of a list is a list operation (drf-spectacular calls a non-"many" response "retrieve").
        if self.method == "GET" and getattr(self.get_response_serializers(), "is_page", False):
            operation_id = operation_id.removesuffix("_retrieve") + "_list"
        return operation_id

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = ERROR_DESCRIPTIONS[code]
                responses[code] = response
        return responses


PAGE_PARAMETER = OpenApiParameter("page", int, description="page number, from 1 (PAGE_SIZE results a page)")


@functools.cache
def paginated(serializer_class: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of a ``PageNumberPagination`` page of ``serializer_class`` (``count/next/previous/results``)."""
    name = "Paginated" + serializer_class.__name__.removesuffix("Serializer") + "List"
    return type(name, (serializers.Serializer,), {
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": serializer_class(many=True),
        "Meta": type("Meta", (), {"ref_name": name}),
        "is_page": True,
        "__module__": __name__,
    })
