"""Outbound webhooks in the admin: endpoints (registered with a secret shown once, given a
new one by an action) and their deliveries (read-only, with every attempt; "Send again" as
an action and as a button on a delivery's page). Every change goes through the services
of billing_portal/common/webhooks.py, which audit it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import path

from billing_portal.common.admin import (
    LargeTableAdminMixin,
    ReadOnlyAdminMixin,
    permission_check,
)
from billing_portal.common.errors import DomainError
from billing_portal.common.request import RequestMeta
from billing_portal.common.webhook_models import (
    SIGNATURE_HELP,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from billing_portal.common.webhooks import (
    webhook_delivery_resend,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
    webhook_url_validate,
)

SHOWN_ONCE = "Signing secret of {name} (shown this once; copy it now): {secret}"


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https", help_text=SIGNATURE_HELP)
    events = forms.MultipleChoiceField(
        choices=WebhookEventType.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("name", "url", "events", "is_active")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        webhook_url_validate(url)
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("name", "url", "is_active", "event_list", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("name", "url")
    readonly_fields = ("signature", "created_at", "updated_at")
    actions = ["rotate_secret"]

    has_rotate_secret_permission = permission_check("common.rotate_secret_webhookendpoint")

    @admin.display(description="events")
    def event_list(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.events)

    @admin.display(description="signature")
    def signature(self, obj: WebhookEndpoint) -> str:
        return SIGNATURE_HELP

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form, change: bool) -> None:
        values: dict[str, Any] = {
            field: form.cleaned_data[field] for field in ("name", "url", "events", "is_active")
        }
        meta = RequestMeta.from_request(request)
        try:
            if change:
                saved = webhook_endpoint_update(
                    endpoint_id=obj.pk, actor=request.user, meta=meta, **values
                )
            else:
                saved, secret = webhook_endpoint_create(actor=request.user, meta=meta, **values)
                self.message_user(
                    request, SHOWN_ONCE.format(name=saved.name, secret=secret), messages.WARNING
                )
        except ValidationError as error:  # the form checked the same: only a race gets here
            raise PermissionDenied(error.messages[0]) from error
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        webhook_endpoint_delete(
            endpoint_id=obj.pk, actor=request.user, meta=RequestMeta.from_request(request)
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for endpoint in queryset:
            self.delete_model(request, endpoint)

    @admin.action(
        description="Give the selected endpoints a new secret", permissions=["rotate_secret"]
    )
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet) -> None:
        meta = RequestMeta.from_request(request)
        for endpoint in queryset:
            secret = webhook_endpoint_rotate_secret(
                endpoint_id=endpoint.pk, actor=request.user, meta=meta
            )
            self.message_user(
                request, SHOWN_ONCE.format(name=endpoint.name, secret=secret), messages.WARNING
            )


class WebhookAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WebhookAttempt
    fields = ("started_at", "status_code", "duration_ms", "error", "response_excerpt")
    readonly_fields = fields
    extra = 0
    ordering = ("-started_at", "-id")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every event sent (or still to send) to every endpoint, newest first."""

    list_display = (
        "id",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "event_type", "endpoint")
    list_select_related = ("endpoint",)
    search_fields = ("=event_id",)
    ordering = ("-id",)
    fields = (
        "endpoint",
        "event_type",
        "event_id",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "retry_until",
        "created_at",
        "finished_at",
        "body",
    )
    readonly_fields = fields
    inlines = [WebhookAttemptInline]
    actions = ["resend"]
    change_form_template = "admin/common/webhookdelivery/change_form.html"

    has_resend_permission = permission_check("common.resend_webhookdelivery")

    def get_urls(self):
        view = self.admin_site.admin_view(self.resend_view)
        return [
            path("<int:pk>/resend/", view, name="common_webhookdelivery_resend"),
            *super().get_urls(),
        ]

    @admin.action(description="Send the selected deliveries again", permissions=["resend"])
    def resend(self, request: HttpRequest, queryset: QuerySet) -> None:
        sent = sum(self._resend(request, delivery.pk) for delivery in queryset)
        self.message_user(request, f"{sent} deliver(ies) queued to be sent again.", messages.INFO)

    def resend_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_resend_permission(request):
            raise PermissionDenied
        delivery = get_object_or_404(WebhookDelivery, pk=pk)
        if self._resend(request, delivery.pk):
            self.message_user(request, "Queued to be sent again.", messages.SUCCESS)
        return redirect("admin:common_webhookdelivery_change", delivery.pk)

    def _resend(self, request: HttpRequest, delivery_id: int) -> bool:
        try:
            webhook_delivery_resend(
                delivery_id=delivery_id, actor=request.user, meta=RequestMeta.from_request(request)
            )
        except DomainError as error:
            self.message_user(request, f"#{delivery_id}: {error.message}", messages.ERROR)
            return False
        return True

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        extra = {**(extra_context or {}), "can_resend": self.has_resend_permission(request)}
        return super().change_view(request, object_id, form_url, extra)
