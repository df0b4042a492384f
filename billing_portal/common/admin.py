"""Admin helpers shared by the apps, and the admin of the kernel's outbox."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import F, QuerySet
from django.http import HttpRequest

from billing_portal.common.models import OutboxMessage
from billing_portal.common.outbox import outbox_relay


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


# --- The kernel's own table ---------------------------------------------------------------


class OutboxStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [("unsent", "Not sent yet"), ("sent", "Sent")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "unsent":
            return queryset.filter(sent_at__isnull=True, consumed_at__isnull=True)
        if self.value() == "sent":
            return queryset.exclude(sent_at__isnull=True, consumed_at__isnull=True)
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What the portal queued, unsent first with why (broker down, unknown task) and how
    often publishing was tried; the relay sends them every 30 s, or "Send now"."""

    list_display = ("id", "task_name", "created_at", "sent", "attempts", "error", "sent_at")
    list_filter = (OutboxStateFilter, "task_name")
    search_fields = ("task_name", "dedupe_key", "last_error")
    ordering = (F("sent_at").asc(nulls_first=True), "-id")
    actions = ["relay_now"]

    has_relay_permission = permission_check("common.relay_outboxmessage")

    @admin.display(boolean=True, description="sent")
    def sent(self, obj: OutboxMessage) -> bool:
        return obj.sent_at is not None or obj.consumed_at is not None

    @admin.display(description="last error")
    def error(self, obj: OutboxMessage) -> str:
        return obj.last_error[:120]

    @admin.action(description="Send selected messages now", permissions=["relay"])
    def relay_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        published = outbox_relay(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{published} message(s) sent to the broker.", messages.INFO)
