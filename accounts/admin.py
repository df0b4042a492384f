"""Staff screens for users, customers, staff notes and login lockouts (the audit log's is
the kernel's). The customer summary page reads every app, so billing adds it to the customer
admin (billing/admin/customers.py)."""

from __future__ import annotations

from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.acting import ACT_AS_PERMISSION, may_act_as
from accounts.acting_views import ActAsCustomerView
from accounts.admin_forms import StaffNoteForm
from accounts.errors import ApiKeyRefused
from accounts.forms import StaffApiKeyForm
from accounts.models import ApiKey, Customer, StaffNote, User
from billing_portal.common.admin import (
    AutocompleteAdminMixin,
    LargeTableAdminMixin,
    currency_filter,
    permission_check,
)
from billing_portal.common.request import RequestMeta


class UserCreationAdminForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserChangeAdminForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class CustomerInline(admin.StackedInline):
    model = Customer
    can_delete = False
    extra = 0


@admin.register(User)
class UserAdmin(LargeTableAdminMixin, DjangoUserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    ordering = ("email",)
    list_display = ("email", "is_staff", "is_active", "email_verified_at", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email", "customer__name", "customer__company")
    readonly_fields = ("last_login", "date_joined")
    inlines = [CustomerInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Status", {"fields": ("is_active", "email_verified_at")}),
        (
            "Permissions",
            {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(Customer)
class CustomerAdmin(LargeTableAdminMixin, AutocompleteAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/accounts/customer/change_form.html"
    list_display = ("name", "company", "email", "country_name", "preferred_currency", "created_at")
    list_filter = ("country", currency_filter("preferred_currency"))
    # Also what staff type into every customer field of the admin (autocomplete).
    search_fields = ("user__email", "name", "company")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at", "updated_at")

    def get_urls(self) -> list[URLPattern]:
        # Acting checks its permission itself (accounts.acting.may_act_as, as django-hijack's
        # permission check), so the customer is never acted as through any other door.
        view = self.admin_site.admin_view(ActAsCustomerView.as_view())
        return [
            path("<int:pk>/act-as/", view, name="accounts_customer_act_as"),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        customer = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if customer is not None and request.user.has_perm(ACT_AS_PERMISSION):
            if may_act_as(hijacker=request.user, hijacked=customer.user):
                url = reverse("admin:accounts_customer_act_as", args=[customer.pk])
                context["act_as_url"] = url
            else:
                context["act_as_refusal"] = "Staff accounts and inactive users cannot be acted as."
        return super().change_view(request, object_id, form_url, context)

    @admin.display(ordering="user__email")
    def email(self, obj: Customer) -> str:
        return obj.user.email

    # The country's name from django-countries' lookup: the field's own display flattens
    # all 250 choices for every row (half the list's time at 100 rows).
    @admin.display(description="country", ordering="country")
    def country_name(self, obj: Customer) -> str:
        return obj.country.name


class StaffNoteAdminForm(StaffNoteForm):
    class Meta(StaffNoteForm.Meta):
        fields = ("customer", "body", "pinned")


@admin.register(StaffNote)
class StaffNoteAdmin(LargeTableAdminMixin, AutocompleteAdminMixin, admin.ModelAdmin):
    """Staff notes on customers (most are read and added on the customer's summary page).
    Every add, edit, pin and delete goes through accounts.services, so each is audited."""

    form = StaffNoteAdminForm
    list_display = ("excerpt", "customer", "pinned", "author", "created_at", "updated_at")
    list_filter = ("pinned", ("created_at", admin.DateFieldListFilter))
    search_fields = ("customer__name", "customer__company", "customer__user__email", "body")
    list_select_related = ("customer", "author")
    autocomplete_fields = ("customer",)
    readonly_fields = ("author", "created_at", "updated_at")
    actions = ["pin_selected", "unpin_selected"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return ("customer", *fields) if obj is not None else fields  # a note stays on its customer

    @admin.display(description="note")
    def excerpt(self, obj: StaffNote) -> str:
        return str(obj)

    def save_model(self, request: HttpRequest, obj: StaffNote, form: ModelForm, change: bool):
        meta = RequestMeta.from_request(request)
        data = form.cleaned_data
        if not change:
            obj.pk = services.staff_note_add(
                customer_id=data["customer"].pk,
                author=request.user,
                body=data["body"],
                pinned=data["pinned"],
                meta=meta,
            ).pk
        else:
            if "body" in form.changed_data:
                services.staff_note_edit(
                    note_id=obj.pk, actor=request.user, body=data["body"], meta=meta
                )
            if "pinned" in form.changed_data:
                services.staff_note_pin(
                    note_id=obj.pk, actor=request.user, pinned=data["pinned"], meta=meta
                )
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: StaffNote) -> None:
        meta = RequestMeta.from_request(request)
        services.staff_note_delete(note_id=obj.pk, actor=request.user, meta=meta)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for note in queryset:
            self.delete_model(request, note)

    def _pin(self, request: HttpRequest, queryset: QuerySet, *, pinned: bool) -> None:
        meta = RequestMeta.from_request(request)
        for note in queryset:
            services.staff_note_pin(note_id=note.pk, actor=request.user, pinned=pinned, meta=meta)
        verb = "pinned" if pinned else "unpinned"
        self.message_user(request, f"{queryset.count()} note(s) {verb}.", messages.SUCCESS)

    @admin.action(description="Pin selected notes", permissions=["change"])
    def pin_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._pin(request, queryset, pinned=True)

    @admin.action(description="Unpin selected notes", permissions=["change"])
    def unpin_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._pin(request, queryset, pinned=False)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """API keys: made here for integrations (the whole key shown once), revoked by an
    action; never edited or deleted, so the audit log keeps pointing at them."""

    list_display = ("name", "user", "prefix", "state", "expires_at", "last_used_at", "created_at")
    list_filter = (("created_at", admin.DateFieldListFilter), "revoked_at")
    search_fields = ("name", "prefix", "user__email")
    list_select_related = ("user",)
    readonly_fields = [field.name for field in ApiKey._meta.fields if field.name != "secret_hash"]
    exclude = ("secret_hash",)
    actions = ["revoke_selected"]

    def has_change_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # read-only: a key's scopes are fixed when it is made

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = StaffApiKeyForm(request.POST or None)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta}
        if request.method == "POST" and form.is_valid():
            try:
                new = services.api_key_create(
                    user=form.cleaned_data["email"],
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    expires_at=form.expires_at(),
                    allowed_ips=form.cleaned_data["allowed_ips"],
                    actor=request.user,
                    meta=RequestMeta.from_request(request),
                )
            except ApiKeyRefused as error:
                form.add_error(None, error.message)
            else:
                # Shown on this answer only: never put in a message or the session.
                context.update(title=f"API key {new.api_key}", new=new)
                return TemplateResponse(request, "admin/accounts/apikey/created.html", context)
        context.update(title="Create an API key", form=form)
        return TemplateResponse(request, "admin/billing/staff_form.html", context)

    # The action needs the change permission, which the read-only screen itself never uses.
    has_revoke_permission = permission_check("accounts.change_apikey")

    @admin.action(description="Revoke the selected keys", permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        meta = RequestMeta.from_request(request)
        for api_key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(api_key_id=api_key.pk, user=None, actor=request.user, meta=meta)
        self.message_user(request, "The keys were revoked.", messages.SUCCESS)


class AccessAttemptAdmin(AxesAccessAttemptAdmin):
    """django-axes' screen, with its clean-up action offered only to staff who may delete
    attempts (as shipped, anyone who can view them could run it)."""

    @admin.action(description="Clean up expired attempts", permissions=["delete"])
    def cleanup_expired_attempts(self, request: HttpRequest, queryset: QuerySet) -> None:
        # The clean-up reads the attempt time axes puts on login requests; an admin request
        # has none until axes is asked to add its attributes (else it fails with a 500).
        AxesProxyHandler.update_request(request)
        AxesAccessAttemptAdmin.cleanup_expired_attempts(self, request, queryset)


if admin.site.is_registered(AccessAttempt):  # unless AXES_ENABLE_ADMIN is off
    admin.site.unregister(AccessAttempt)
    admin.site.register(AccessAttempt, AccessAttemptAdmin)


# django-otp's own device admins would show staff every user's TOTP key and QR code; the
# second factor is managed by its owner on the security page only.
for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)
