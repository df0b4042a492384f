"""Staff screens for payments' webhook deliveries. The Payment admin (manual payments,
refunds) settles invoices, so it is billing's (billing/admin/payments.py)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest

from billing_portal.common.admin import (
    LargeTableAdminMixin,
    ReadOnlyAdminMixin,
    permission_check,
    values_filter,
)
from payments import services
from payments.gateways.registry import CHECKOUT_LABELS, handled_event_types
from payments.models import WebhookEvent


def _handled_event_types() -> list[tuple[str, str]]:
    return [(kind, kind) for kind in handled_event_types()]


@admin.register(WebhookEvent)
class WebhookEventAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("received_at", "provider", "event_type", "event_id", "status", "attempts")
    list_filter = (
        "status",
        values_filter("provider", "provider", CHECKOUT_LABELS.items),
        values_filter("event_type", "event type (handled ones)", _handled_event_types),
        ("received_at", admin.DateFieldListFilter),
    )
    search_fields = ("event_id", "event_type")
    actions = ["reprocess"]

    has_reprocess_permission = permission_check("payments.reprocess_webhookevent")

    @admin.action(description="Reprocess selected events", permissions=["reprocess"])
    def reprocess(self, request: HttpRequest, queryset) -> None:
        queued = [
            services.webhook_event_reprocess(webhook_event_id=event_id)
            for event_id in queryset.values_list("pk", flat=True)
        ]
        if any(queued):
            self.message_user(request, "Queued for processing.", messages.SUCCESS)
        if not all(queued):
            pruned = f"{queued.count(False)} event(s) not run again: their payload was pruned."
            self.message_user(request, pruned, messages.WARNING)
