"""Scopes: what an API key may do. A view names the scope it needs (`required_scope`); a
request signed in by the browser session acts as its user in the client area does, so it
has every customer scope (and nothing more: staff scopes need a key)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.acting import is_acting
from accounts.models import ApiKey


def scope_needed(view: APIView, method: str) -> str:
    """The scope a request needs: the view's `required_scope`, or its `write_scope` (where
    it sets one) for a method that writes, as when one route lists and creates."""
    write_scope: str | None = getattr(view, "write_scope", None)
    if write_scope and method not in SAFE_METHODS:
        return write_scope
    return str(getattr(view, "required_scope", ApiKey.Scope.READ))


class HasScope(BasePermission):
    code = "scope_missing"

    def has_permission(self, request: Request, view: APIView) -> bool:
        scope = scope_needed(view, request.method or "GET")
        self.message = f"This request needs the '{scope}' scope."
        auth: Any = request.auth
        if scope in ApiKey.STAFF_SCOPES and not request.user.is_staff:
            return False
        if isinstance(auth, ApiKey):
            return scope in auth.scopes
        return scope in ApiKey.CUSTOMER_SCOPES


class NotWhileActing(BasePermission):
    """Staff acting as a customer in the browser may read the customer's API but change
    nothing through it: in the client area the views that move money or change credentials
    refuse them (NotWhileActingMixin), and an API call must not be the way round that. A
    key's requests are the customer's own, never acting."""

    code = "not_while_acting"
    message = "Staff acting as a customer can read through the API but change nothing."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS or isinstance(request.auth, ApiKey):
            return True
        return not is_acting(request)
