"""Admin helpers shared by the apps."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """For records that are evidence (audit events, ledgers, numbered documents, run logs):
    staff can list, search and open them, never add, edit or delete them here. Changes go
    through services, offered as admin actions or custom views."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def permission_check(permission: str) -> Callable[..., bool]:
    """A `has_<name>_permission` method for a ModelAdmin: whether the user holds
    `permission` ("app_label.codename"). `@admin.action(permissions=["<name>"])` offers the
    action only then; custom admin views call the same method and refuse with 403."""

    def check(model_admin, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(permission)

    check.__name__ = f"has_{permission.split('.')[1]}_permission"
    return check
