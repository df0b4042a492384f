"""Staff screens of cancellations: the requests (read-only, filtered by status, kind and
reason), the cancellation report (counts by reason and product over a date range), and
cancelling on a customer's behalf (actions on the services list, and withdrawing a pending
request). Every change runs billing's cancellation flow, with its own permission."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from billing import services as billing
from billing_portal.common.admin import LargeTableAdminMixin, ReadOnlyAdminMixin, permission_check
from billing_portal.common.errors import DomainError
from billing_portal.common.request import RequestMeta
from provisioning.admin import ServiceAdmin
from provisioning.models import CancellationRequest, Service
from provisioning.selectors import cancellation_report

Kind = CancellationRequest.Kind
REPORT_DEFAULT_DAYS = 30


class ReportRangeForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError("The start date must come before the end date.")
        if start and end and (end - start).days > 3660:
            raise forms.ValidationError("Choose a range of at most ten years.")
        return data


@admin.register(CancellationRequest)
class CancellationRequestAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "requested_at",
        "service",
        "customer",
        "kind",
        "reason",
        "status",
        "effective_on",
        "refund",
    )
    list_filter = ("status", "kind", "reason", "requested_at")
    search_fields = ("customer__name", "customer__user__email", "reason_text")
    list_select_related = ("service__product", "customer")
    date_hierarchy = "requested_at"
    change_list_template = "admin/provisioning/cancellationrequest/change_list.html"
    actions = ["withdraw"]

    has_cancel_permission = permission_check("provisioning.cancel_service")
    has_report_permission = permission_check("provisioning.see_cancellation_report")

    def get_urls(self):
        view = self.admin_site.admin_view(self.report_view)
        return [
            path("report/", view, name="provisioning_cancellationrequest_report"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra = {"can_report": self.has_report_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def report_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_report_permission(request):
            raise PermissionDenied
        today = timezone.localdate()
        initial = {"start": today - timedelta(days=REPORT_DEFAULT_DAYS), "end": today}
        form = ReportRangeForm(request.GET if "start" in request.GET else None, initial=initial)
        report = None
        if form.is_bound and form.is_valid():
            report = cancellation_report(**form.cleaned_data)
        elif not form.is_bound:
            report = cancellation_report(**initial)
        context = {
            **self.admin_site.each_context(request),
            "title": "Cancellation report",
            "form": form,
            "report": report,
            "opts": self.model._meta,
        }
        return TemplateResponse(
            request, "admin/provisioning/cancellationrequest/report.html", context
        )

    @admin.action(description="Withdraw (the service renews again)", permissions=["cancel"])
    def withdraw(self, request, queryset) -> None:
        for cancellation in queryset.filter(status=CancellationRequest.Status.REQUESTED):
            try:
                billing.service_cancellation_withdraw(
                    customer=None,
                    service_id=cancellation.service_id,
                    actor=request.user,
                    meta=RequestMeta.from_request(request),
                )
            except DomainError as error:
                self.message_user(request, f"{cancellation}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"{cancellation.service}: withdrawn", messages.SUCCESS)


# The services list, with cancelling on the customer's behalf (billing's flow: an immediate
# cancellation may refund to credit and cancels unpaid renewals).
admin.site.unregister(Service)


@admin.register(Service)
class CancellableServiceAdmin(ServiceAdmin):
    actions = [*ServiceAdmin.actions, "cancel_at_period_end", "cancel_now"]

    has_cancel_permission = permission_check("provisioning.cancel_service")

    def _cancel(self, request, queryset, kind: str, done: str) -> None:
        def cancel(service: Service) -> None:
            billing.service_cancellation_request(
                customer=None,
                service_id=service.pk,
                kind=kind,
                reason=CancellationRequest.Reason.OTHER,
                reason_text=f"Cancelled by staff ({request.user}) on the customer's behalf",
                actor=request.user,
                meta=RequestMeta.from_request(request),
            )

        self._each(request, queryset, cancel, done)

    @admin.action(
        description="Cancel at the end of the paid period (for the customer)",
        permissions=["cancel"],
    )
    def cancel_at_period_end(self, request, queryset) -> None:
        self._cancel(request, queryset, Kind.END_OF_PERIOD, "ends at the end of its period")

    @admin.action(
        description="Cancel now, refund unused time where the product allows (for the customer)",
        permissions=["cancel"],
    )
    def cancel_now(self, request, queryset) -> None:
        self._cancel(request, queryset, Kind.IMMEDIATE, "cancelled")
