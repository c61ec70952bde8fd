"""Request id and the login requirement for every page."""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.contrib.auth.views import redirect_to_login

from trading_site.logging import request_id_var

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Takes a sane ``X-Request-ID`` or makes one; logs carry it; the response echoes it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class LoginRequiredMiddleware:
    """Every page needs a logged-in user except the public paths and prefixes in settings.

    The API (``/api/``) is public here only because DRF authenticates itself and answers 401/403
    JSON; its default permission class requires authentication.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.public_paths = frozenset(settings.PUBLIC_PATHS)
        self.public_prefixes = tuple(settings.PUBLIC_PATH_PREFIXES)

    def __call__(self, request):
        path = request.path
        public = path in self.public_paths or path.startswith(self.public_prefixes)
        if not public and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return self.get_response(request)
