"""Role permissions for the API.

Default: any authenticated user with a role may read; writes need ``operator``. A view raises the
bar with ``required_role = "admin"`` (all methods) or ``write_role = "admin"`` (unsafe methods).
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from trading_site.lib.roles import OPERATOR, VIEWER, has_role


class RoleBasedPermission(BasePermission):
    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        required = getattr(view, "required_role", None)
        if required is None:
            required = VIEWER if request.method in SAFE_METHODS else getattr(view, "write_role", OPERATOR)
        return has_role(user, required)
