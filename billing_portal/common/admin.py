"""Admin helpers shared by the apps."""

from __future__ import annotations

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
