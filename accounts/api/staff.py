"""The base of every staff endpoint: a key with the endpoint's staff scope, held by a staff
user whose role (accounts/roles.py) grants the Django permissions the method needs.

    class ServerListApi(StaffApi, generics.ListCreateAPIView):
        required_scope = ApiKey.Scope.STAFF_SERVICES
        required_permissions = {"GET": ("provisioning.view_server",),
                                "POST": ("provisioning.add_server",)}

The scope says what the integration was allowed to do when the key was made; the role says
what its staff user may do today (a key outlives a role change, the permission check does
not). A customer's key, or the browser session, gets 403 on every staff endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import exceptions
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.api.permissions import HasScope
from accounts.models import ApiKey


class HasRolePermissions(BasePermission):
    """The staff user holds every permission `required_permissions` names for the method
    (a mapping of method to permissions; `"*"` for every method not named)."""

    code = "role_permission_missing"

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not request.user.is_staff:
            return False
        needed = required_for(view, request.method or "GET")
        if not needed:
            # A staff endpoint that names no permission for a method is a bug, not an open
            # door: refused.
            self.message = "This staff endpoint names no permission for this method."
            return False
        self.message = "Your staff role does not allow this: " + ", ".join(needed) + "."
        return bool(request.user.has_perms(needed))


def required_for(view: APIView, method: str) -> tuple[str, ...]:
    table: Mapping[str, tuple[str, ...]] = getattr(view, "required_permissions", {})
    if method in ("HEAD", "OPTIONS"):
        method = "GET"
    return tuple(table.get(method, table.get("*", ())))


class StaffApi(APIView):
    """Staff endpoints: a staff scope on the key and the role's permissions per method."""

    permission_classes = [IsAuthenticated, HasScope, HasRolePermissions]
    required_scope: str = ApiKey.Scope.STAFF_READ
    write_scope: str | None = None  # where set, the scope of the methods that write
    required_permissions: Mapping[str, tuple[str, ...]] = {}

    def object_id(self, name: str = "pk") -> int:
        # Routes take digits only; an id beyond any row's is simply not found.
        pk = int(self.kwargs[name])
        if pk > 2**63 - 1:
            raise exceptions.NotFound()
        return pk
