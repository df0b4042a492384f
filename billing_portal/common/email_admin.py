"""Email overrides in the admin: staff write an email's subject and bodies, see the
variables it offers, preview it with sample values and send themselves a test. Saving and
deleting go through billing_portal/common/email_overrides.py, which validates in the sandbox
and audits."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html, format_html_join

from billing_portal.common.admin import permission_check
from billing_portal.common.email_catalogue import email_names, email_sample_context
from billing_portal.common.email_models import EmailTemplateOverride
from billing_portal.common.email_overrides import (
    email_override_delete,
    email_override_preview,
    email_override_save,
    email_override_test_send,
    email_override_validate,
)
from billing_portal.common.request import RequestMeta


def _list(name: str) -> str:
    rows = format_html_join(
        "",
        "<li><code>{{{{ {} }}}}</code> e.g. {}</li>",
        sorted(email_sample_context(name).items()),
    )
    return format_html("<ul>{}</ul>", rows)


class EmailTemplateOverrideForm(forms.ModelForm):
    name = forms.ChoiceField(label="email", choices=[(n, n) for n in email_names()])

    class Meta:
        model = EmailTemplateOverride
        fields = ("name", "is_active", "subject", "text", "html")

    def clean(self) -> dict:
        data = super().clean() or {}
        name = data.get("name") or getattr(self.instance, "name", "")
        if name and all(field in data for field in ("subject", "text", "html")):
            email_override_validate(
                name=name, subject=data["subject"], text=data["text"], html=data["html"]
            )
        return data


@admin.register(EmailTemplateOverride)
class EmailTemplateOverrideAdmin(admin.ModelAdmin):
    form = EmailTemplateOverrideForm
    list_display = ("name", "is_active", "subject", "updated_at", "updated_by")
    list_filter = ("is_active",)
    list_select_related = ("updated_by",)
    search_fields = ("name", "subject")
    readonly_fields = ("variables", "updated_at", "updated_by")
    change_form_template = "admin/common/emailtemplateoverride/change_form.html"

    has_test_send_permission = permission_check("common.test_send_emailtemplateoverride")

    @admin.display(description="variables offered")
    def variables(self, obj: EmailTemplateOverride) -> str:
        names = [obj.name] if obj.name else email_names()  # adding: every email's
        return format_html_join("", "<p><strong>{}</strong></p>{}", ((n, _list(n)) for n in names))

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        email_override_save(
            override=obj, actor=request.user, meta=RequestMeta.from_request(request)
        )

    def delete_model(self, request: HttpRequest, obj) -> None:
        email_override_delete(
            override=obj, actor=request.user, meta=RequestMeta.from_request(request)
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for override in queryset:
            self.delete_model(request, override)

    def get_urls(self):
        preview = self.admin_site.admin_view(self.preview_view)
        test_send = self.admin_site.admin_view(self.test_send_view)
        return [
            path("<int:pk>/preview/", preview, name="common_emailtemplateoverride_preview"),
            path("<int:pk>/test-send/", test_send, name="common_emailtemplateoverride_test_send"),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        # For whoever writes the wording (those who only read see the text on its page).
        if not self.has_change_permission(request):
            raise PermissionDenied
        override = get_object_or_404(EmailTemplateOverride, pk=pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": override,
            "title": f"Preview of {override.name}",
            "rendered": email_override_preview(override),
        }
        return TemplateResponse(request, "admin/common/emailtemplateoverride/preview.html", context)

    def test_send_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_test_send_permission(request):
            raise PermissionDenied
        override = get_object_or_404(EmailTemplateOverride, pk=pk)
        email_override_test_send(
            override=override, actor=request.user, meta=RequestMeta.from_request(request)
        )
        self.message_user(request, f"Test sent to {request.user.get_username()}.", messages.SUCCESS)
        return redirect("admin:common_emailtemplateoverride_change", override.pk)

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        extra = {**(extra_context or {}), "can_test_send": self.has_test_send_permission(request)}
        return super().change_view(request, object_id, form_url, extra)
