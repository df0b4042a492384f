"""Staff screens for provisioning: servers (utilisation, online state, write-only
credentials), server groups, services with lifecycle actions and their operations log, and
the queue of failed operations. Every action calls a service."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html

from billing_portal.common.admin import (
    AutocompleteAdminMixin,
    LargeTableAdminMixin,
    ReadOnlyAdminMixin,
    permission_check,
)
from billing_portal.common.errors import DomainError
from catalogue.admin import ProductAdmin
from catalogue.models import Product
from provisioning import services
from provisioning.models import (
    AutomaticBackup,
    ProductBackupPolicy,
    ProductPlacement,
    ProvisioningOperation,
    Server,
    ServerGroup,
    Service,
    ServiceOption,
    SitePlan,
)
from provisioning.panels.registry import MODULES, module_choices, module_settings_errors
from provisioning.services.backups import auto_backup_retry
from provisioning.services.server_records import EDITABLE_FIELDS


class ServerForm(forms.ModelForm):
    """Credentials are write-only: blank keeps the stored ones; they are never shown."""

    module = forms.ChoiceField(choices=())
    base_url = forms.URLField(max_length=300, assume_scheme="https")
    new_credentials = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text='JSON, e.g. {"api_key": "ptla_..."}; leave empty to keep the stored ones.',
    )

    class Meta:
        model = Server
        fields = EDITABLE_FIELDS  # what staff set (the API's server writes take the same)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["module"].choices = module_choices()

    def clean_new_credentials(self) -> dict | None:
        raw = self.cleaned_data["new_credentials"].strip()
        if not raw:
            if not (self.instance.pk and self.instance.credentials):
                raise forms.ValidationError("Give the panel credentials.")
            return None
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise forms.ValidationError("Not valid JSON.") from exc
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise forms.ValidationError('Give an object of strings, e.g. {"api_key": "..."}.')
        return value

    def save(self, commit: bool = True) -> Server:
        if self.cleaned_data.get("new_credentials"):
            self.instance.credentials = self.cleaned_data["new_credentials"]
        return super().save(commit)


class ProductModuleForm(forms.ModelForm):
    """Checks the module's required product settings when staff save a product."""

    class Meta:
        model = Product
        fields = "__all__"  # noqa: DJ007 (every field is staff-editable)

    def clean(self) -> dict:
        data = super().clean()
        module = data.get("module") or ""
        if module and module not in MODULES:
            self.add_error("module", f"Unknown module. Choose one of: {', '.join(MODULES)}.")
            return data
        errors = module_settings_errors(module, data.get("module_settings") or {})
        for name, message in errors.items():
            self.add_error("module_settings", f"{name}: {message}")
        plan = (data.get("module_settings") or {}).get("plan")
        if module == "wordpress" and plan and not SitePlan.objects.filter(name=plan).exists():
            self.add_error("module_settings", f"plan: no site plan named {plan!r}.")
        return data


class ProductPlacementFormSet(forms.BaseInlineFormSet):
    """A product with a module needs a server group for its new services."""

    def clean(self) -> None:
        super().clean()
        placed = any(
            form.cleaned_data.get("server_group") and not form.cleaned_data.get("DELETE")
            for form in self.forms
            if hasattr(form, "cleaned_data")
        )
        if self.instance.module and not placed:
            raise forms.ValidationError("Choose the server group new services go to.")


class ProductPlacementInline(admin.TabularInline):
    model = ProductPlacement
    formset = ProductPlacementFormSet
    fields = ("server_group", "memory_mb", "disk_gb", "cpu_cores")
    extra = 1
    max_num = 1
    verbose_name = "placement"
    verbose_name_plural = "placement (where new services go)"


# The catalogue's product screen, with provisioning's part of a product: its module settings
# checked against the panel module, and where its services are placed.
admin.site.unregister(Product)


@admin.register(Product)
class PlacedProductAdmin(ProductAdmin):
    form = ProductModuleForm
    list_display = (*ProductAdmin.list_display[:4], "server_group", *ProductAdmin.list_display[4:])
    list_select_related = (*ProductAdmin.list_select_related, "placement__server_group")
    inlines = [*ProductAdmin.inlines, ProductPlacementInline]

    @admin.display(description="server group", ordering="placement__server_group__name")
    def server_group(self, product: Product) -> ServerGroup | None:
        placement = getattr(product, "placement", None)
        return placement.server_group if placement else None


@admin.register(SitePlan)
class SitePlanAdmin(admin.ModelAdmin):
    list_display = ("name", "memory_gb", "disk_gb", "backups", "domains")


@admin.register(ServerGroup)
class ServerGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "strategy")


@admin.register(Server)
class ServerAdmin(admin.ModelAdmin):
    form = ServerForm
    list_display = (
        "name",
        "module",
        "group",
        "location",
        "utilisation_bar",
        "online_badge",
        "is_active",
        "last_checked_at",
    )
    list_filter = ("module", "group", "is_active", "is_online")
    search_fields = ("name", "base_url", "location")
    readonly_fields = (
        "current_accounts",
        "stored_credentials",
        "last_checked_at",
        "last_check_error",
    )
    actions = ["check_now"]

    change_form_template = "admin/provisioning/server/change_form.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.lookups_view)
        return [
            path("<int:pk>/lookups/", view, name="provisioning_server_lookups"),
            *super().get_urls(),
        ]

    def lookups_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """What the panel offers for product set-up (nests, eggs, packages, ...), live. For
        staff who set up servers: it calls the panel with the server's credentials."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        server = get_object_or_404(Server, pk=pk)
        results: list[tuple[str, str]] = []
        try:
            for title, rows in services.server_lookups(server=server).items():
                results.append((title, json.dumps(rows, indent=2, default=str)))
        except DomainError as error:
            self.message_user(request, f"{server}: {error.message}", messages.ERROR)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Look-ups on {server}",
            "results": results,
            "opts": self.model._meta,
            "original": server,
        }
        return TemplateResponse(request, "admin/provisioning/server/lookups.html", context)

    @admin.display(description="Accounts")
    def utilisation_bar(self, server: Server) -> str:
        share = round(server.utilisation * 100)
        level = "high" if share >= 80 else "ok"  # colours in static/css/admin.css
        return format_html(
            '<span title="{}%" class="utilisation-{}">{} / {} ({}%){}</span>',
            share,
            level,
            server.current_accounts,
            server.capacity_accounts,
            share,
            " — over 80%" if share >= 80 else "",
        )

    @admin.display(description="Online", boolean=True)
    def online_badge(self, server: Server) -> bool:
        return server.is_online

    @admin.display(description="Stored credentials")
    def stored_credentials(self, server: Server) -> str:
        keys = ", ".join(sorted(server.credentials)) or "none"
        return f"{keys} (encrypted; values are never shown)"

    @admin.action(description="Check the connection now", permissions=["change"])
    def check_now(self, request: HttpRequest, queryset: QuerySet[Server]) -> None:
        for server in queryset:
            checked = services.server_check(server_id=server.pk)
            level = messages.SUCCESS if checked.is_online else messages.ERROR
            state = "online" if checked.is_online else f"offline: {checked.last_check_error}"
            self.message_user(request, f"{checked}: {state}", level)


class ServiceOptionInline(admin.TabularInline):
    """Add-ons are chosen when a service is added here; afterwards they are bought and
    removed through a plan change, like the product."""

    model = ServiceOption
    extra = 0

    def has_add_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_delete_permission(request, obj)


class OperationInline(admin.TabularInline):
    model = ProvisioningOperation
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "status", "attempts", "last_error", "finished_at")
    readonly_fields = fields
    ordering = ("-created_at",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class PlaceForm(forms.Form):
    server = forms.ModelChoiceField(queryset=Server.objects.none())

    def __init__(self, *args, service: Service, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["server"].queryset = Server.objects.filter(
            module=service.product.module, is_active=True
        )


@admin.register(Service)
class ServiceAdmin(LargeTableAdminMixin, AutocompleteAdminMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "customer",
        "status",
        "server",
        "cycle",
        "recurring_amount",
        "next_due_date",
    )
    list_filter = ("status", "cycle", "product", "server")
    search_fields = ("domain", "hostname", "external_id", "customer__name", "customer__user__email")
    list_select_related = ("customer", "product", "server")
    autocomplete_fields = ("customer", "order")
    change_form_template = "admin/provisioning/service/change_form.html"
    readonly_fields = (
        "status",
        "server",
        "external_id",
        "username",
        "panel_url",
        "created_at",
        "activated_at",
        "suspended_at",
        "terminated_at",
        "cancelled_at",
    )
    # What the customer pays and when: set by the order, then changed only by a plan change,
    # renewals and the lifecycle services (which keep panel and billing in step).
    billing_fields = ("product", "cycle", "currency", "recurring_amount", "next_due_date")
    exclude = ("secrets",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = [ServiceOptionInline, OperationInline]
    actions = ["provision", "suspend", "unsuspend", "terminate", "retry_provisioning"]

    has_provision_permission = permission_check("provisioning.provision_service")
    has_suspend_permission = permission_check("provisioning.suspend_service")
    has_terminate_permission = permission_check("provisioning.terminate_service")

    def get_readonly_fields(self, request: HttpRequest, obj: Service | None = None):
        readonly = super().get_readonly_fields(request, obj)
        return (*readonly, *self.billing_fields) if obj is not None else readonly

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # invoice lines and operations PROTECT it; terminate or cancel it

    def get_urls(self):
        view = self.admin_site.admin_view(self.place_view)
        return [
            path("<int:pk>/place/", view, name="provisioning_service_place"),
            *super().get_urls(),
        ]

    def place_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Put a service that is not on its panel yet on a server staff choose."""
        if not self.has_provision_permission(request):
            raise PermissionDenied
        service = get_object_or_404(Service, pk=pk)
        form = PlaceForm(request.POST or None, service=service)
        if request.method == "POST" and form.is_valid():
            try:
                services.server_place_manually(
                    service_id=service.pk, server_id=form.cleaned_data["server"].pk
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, "The service was placed.", messages.SUCCESS)
                return redirect("admin:provisioning_service_change", service.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Place {service}",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/credits/change_credit.html", context)

    def _each(self, request, queryset, call, done: str) -> None:
        for service in queryset:
            try:
                call(service)
            except DomainError as error:
                self.message_user(request, f"{service}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"{service}: {done}", messages.SUCCESS)

    def _change(self, request, queryset, change, reason: str, done: str) -> None:
        self._each(
            request,
            queryset,
            lambda s: change(service_id=s.pk, reason=reason, actor=request.user),
            done,
        )

    @admin.action(
        description="Provision now, without waiting for payment", permissions=["provision"]
    )
    def provision(self, request, queryset) -> None:
        self._each(
            request,
            queryset,
            lambda s: services.service_provision_by_staff(
                service_id=s.pk,
                actor=request.user,
                reason=f"Provisioned from the admin by {request.user}",
            ),
            "set-up queued",
        )

    @admin.action(description="Suspend (and on the panel)", permissions=["suspend"])
    def suspend(self, request, queryset) -> None:
        self._change(request, queryset, services.service_suspend, "By staff", "suspended")

    @admin.action(description="Unsuspend (and on the panel)", permissions=["suspend"])
    def unsuspend(self, request, queryset) -> None:
        self._change(request, queryset, services.service_unsuspend, "By staff", "unsuspended")

    @admin.action(description="Terminate (and delete on the panel)", permissions=["terminate"])
    def terminate(self, request, queryset) -> None:
        self._change(request, queryset, services.service_terminate, "By staff", "terminated")

    @admin.action(description="Provision / retry the failed set-up", permissions=["provision"])
    def retry_provisioning(self, request, queryset) -> None:
        def retry(service: Service) -> None:
            failed = service.operations.filter(kind="create", status="failed").last()
            if failed is None:
                raise DomainError("Nothing to retry: no failed set-up.")
            services.operation_retry(operation_id=failed.pk, staff=request.user)

        self._each(request, queryset, retry, "set-up queued again")


@admin.register(ProvisioningOperation)
class ProvisioningOperationAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The queue: filter by status "Failed" for what needs staff."""

    list_display = (
        "created_at",
        "service",
        "kind",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
    )
    list_filter = ("status", "kind")
    search_fields = ("idempotency_key", "service__customer__user__email", "last_error")
    list_select_related = ("service__product",)
    actions = ["retry", "mark_resolved"]

    has_retry_permission = permission_check("provisioning.retry_operation")
    has_resolve_permission = permission_check("provisioning.resolve_operation")

    @admin.action(description="Retry", permissions=["retry"])
    def retry(self, request, queryset) -> None:
        for operation in queryset:
            try:
                services.operation_retry(operation_id=operation.pk, staff=request.user)
            except DomainError as error:
                self.message_user(request, f"{operation}: {error.message}", messages.ERROR)

    @admin.action(description="Mark resolved (fixed by hand on the panel)", permissions=["resolve"])
    def mark_resolved(self, request, queryset) -> None:
        for operation in queryset:
            try:
                services.operation_mark_resolved(
                    operation_id=operation.pk,
                    staff=request.user,
                    note="Marked resolved in the admin after fixing it on the panel.",
                )
            except DomainError as error:
                self.message_user(request, f"{operation}: {error.message}", messages.ERROR)


class ProductBackupPolicyInline(admin.StackedInline):
    model = ProductBackupPolicy
    fields = ("interval", "customer_may_disable", "keep")
    extra = 0
    max_num = 1
    verbose_name = "automatic backups"
    verbose_name_plural = "automatic backups (none: the product has none)"


PlacedProductAdmin.inlines = [*PlacedProductAdmin.inlines, ProductBackupPolicyInline]


@admin.register(AutomaticBackup)
class AutomaticBackupAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Scheduled backups of customers' services: filter by status "Failed" for what needs
    staff (they were told by email); retrying one needs its own permission."""

    list_display = (
        "slot",
        "service",
        "name",
        "status",
        "attempts",
        "finished_at",
        "backup_id",
        "last_error",
    )
    list_filter = ("status", ("slot", admin.DateFieldListFilter), "service__product")
    search_fields = ("name", "backup_id", "service__customer__user__email")
    list_select_related = ("service__product",)
    actions = ["retry"]

    has_retry_permission = permission_check("provisioning.retry_automatic_backup")

    @admin.action(description="Retry (failed ones)", permissions=["retry"])
    def retry(self, request, queryset) -> None:
        for row in queryset:
            try:
                auto_backup_retry(backup_id=row.pk, staff=request.user)
            except DomainError as error:
                self.message_user(request, f"{row}: {error.message}", messages.ERROR)
