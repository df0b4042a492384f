"""The customer admin: accounts' customer screen with pages that read or change other
apps, so billing (the top layer) adds them to accounts' customer admin (its admin URLs,
admin/accounts/customer/..., stay): the summary (profile, services, unpaid invoices, credit
and token balances, payments, audit events and staff notes on one screen) and the erasure of
personal data ("Erase personal data": the customer's services end on their panels first and
saved cards are removed at the gateway, billing.services.data_rights), and the customer's
client group as a badge in its colour, in the list and on the form (catalogue's). Everything else of
that admin (its list, form and buttons, such as acting as the customer) stays accounts'."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts import services as account_services
from accounts.admin import CustomerAdmin as AccountsCustomerAdmin
from accounts.admin_forms import StaffNoteForm
from accounts.models import Customer, StaffNote
from billing import services as billing
from billing.models import TokenPurchase
from billing.selectors import customer_summary
from billing_portal.common.admin import permission_check
from billing_portal.common.audit import AuditEvent
from billing_portal.common.errors import DomainError
from billing_portal.common.request import RequestMeta
from catalogue.admin import client_group_badge
from credits.models import CreditAccount
from invoices.models import Invoice
from payments.models import Payment
from provisioning.models import Service
from provisioning.services.tokens import tokens_value

# Each section of the summary and the model a staff user must be allowed to view for it.
SECTION_MODELS: dict[str, type[Model]] = {
    "services": Service,
    "invoices": Invoice,
    "credit": CreditAccount,
    "tokens": TokenPurchase,
    "payments": Payment,
    "events": AuditEvent,
    "notes": StaffNote,
}
# Extra filters of a section's "all of them" link (beyond the customer).
SECTION_FILTERS = {"invoices": "&status__exact=unpaid"}


class ErasureForm(forms.Form):
    STEPS = [("end_services", "End their services"), ("erase", "Erase personal data")]

    step = forms.ChoiceField(choices=STEPS, widget=forms.HiddenInput)
    email = forms.CharField(
        label="Customer's email", help_text="Type the customer's email address to confirm."
    )

    def __init__(self, *args, customer: Customer, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer

    def clean_email(self) -> str:
        typed = self.cleaned_data["email"].strip().lower()
        if typed != self.customer.user.email:
            raise forms.ValidationError("This is not the customer's email address.")
        return typed


if admin.site.is_registered(Customer):
    admin.site.unregister(Customer)


@admin.register(Customer)
class CustomerAdmin(AccountsCustomerAdmin):
    change_form_template = "admin/accounts/customer/change_form.html"
    list_display = (*AccountsCustomerAdmin.list_display, "group_badge", "summary_link")
    list_select_related = (*AccountsCustomerAdmin.list_select_related, "client_group__group")
    readonly_fields = (*AccountsCustomerAdmin.readonly_fields, "erased_at", "group_badge")

    has_erase_permission = permission_check("accounts.erase_customer")

    @admin.display(description="client group")
    def group_badge(self, obj: Customer) -> str:
        """The customer's client group as a badge in its colour (catalogue's membership)."""
        membership = getattr(obj, "client_group", None)
        return client_group_badge(membership.group if membership else None)

    @admin.display(description="summary")
    def summary_link(self, obj: Customer) -> str:
        url = reverse("admin:accounts_customer_summary", args=[obj.pk])
        return format_html('<a href="{}">Summary</a>', url)

    def get_urls(self):
        summary = self.admin_site.admin_view(self.summary_view)
        erase = self.admin_site.admin_view(self.erase_view)
        return [
            path("<int:customer_id>/summary/", summary, name="accounts_customer_summary"),
            path("<int:customer_id>/erase/", erase, name="accounts_customer_erase"),
            *super().get_urls(),
        ]

    def summary_view(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        """GET: the page, for staff who may view customers (each section only for those who
        may view its model). POST: add a note, for those who may add notes."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        customer = get_object_or_404(Customer.objects.select_related("user"), pk=customer_id)
        may_add_note = request.user.has_perm("accounts.add_staffnote")
        posted = request.method == "POST"
        if posted and not may_add_note:
            raise PermissionDenied
        form = StaffNoteForm(request.POST if posted else None) if may_add_note else None
        if form is not None and form.is_valid() and self._note_added(request, customer, form):
            return redirect("admin:accounts_customer_summary", customer.pk)
        sections = self._sections(request)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Summary of {customer}",
            "opts": self.model._meta,
            "original": customer,
            "summary": customer_summary(customer=customer, sections=sections),
            "links": self._links(customer, sections),
            "note_form": form,
            "may_edit_customer": self.has_change_permission(request, customer),
            "customer_address": _address_lines(customer),
        }
        if "tokens" in sections:
            context["tokens_worth"] = tokens_value(context["summary"].tokens.added)
        return TemplateResponse(request, "admin/accounts/customer/summary.html", context)

    def _note_added(self, request: HttpRequest, customer: Customer, form: StaffNoteForm) -> bool:
        try:
            account_services.staff_note_add(
                customer_id=customer.pk,
                author=request.user,
                body=form.cleaned_data["body"],
                pinned=form.cleaned_data["pinned"],
                meta=RequestMeta.from_request(request),
            )
        except DomainError as error:
            form.add_error(None, error.message)
            return False
        self.message_user(request, "The note was added.", messages.SUCCESS)
        return True

    def _sections(self, request: HttpRequest) -> set[str]:
        """The sections whose model the staff user may view."""
        return {
            name
            for name, model in SECTION_MODELS.items()
            if self.admin_site.is_registered(model)
            and self.admin_site.get_model_admin(model).has_view_permission(request)
        }

    def _links(self, customer: Customer, sections: set[str]) -> dict[str, str]:
        """Each shown section's staff list, filtered to the customer."""
        links = {}
        for name in sections:
            opts = SECTION_MODELS[name]._meta
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            links[name] = f"{url}?customer__id__exact={customer.pk}{SECTION_FILTERS.get(name, '')}"
        return links

    def erase_view(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        """Confirm, by typing the email, ending the services and then the erasure."""
        if not self.has_erase_permission(request):
            raise PermissionDenied
        customer = get_object_or_404(Customer.objects.select_related("user"), pk=customer_id)
        form = ErasureForm(request.POST or None, customer=customer)
        if request.method == "POST" and form.is_valid():
            try:
                return self._erase_step(request, customer, form.cleaned_data["step"])
            except DomainError as error:
                form.add_error(None, str(error))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Erase {customer}",
            "opts": self.model._meta,
            "original": customer,
            "customer": customer,
            "state": billing.customer_erasure_state(customer=customer),
            "form": form,
        }
        return TemplateResponse(request, "admin/accounts/customer/erase.html", context)

    def _erase_step(self, request: HttpRequest, customer: Customer, step: str) -> HttpResponse:
        if step == "end_services":
            ended = billing.customer_services_end(customer=customer, actor=request.user)
            self.message_user(
                request,
                f"{ended} service(s) ended; panel terminations are queued. Erase once the "
                "panels have confirmed.",
                messages.SUCCESS,
            )
            return redirect("admin:accounts_customer_erase", customer.pk)
        billing.customer_erase(
            customer_id=customer.pk, actor=request.user, meta=RequestMeta.from_request(request)
        )
        self.message_user(request, "The customer's personal data was erased.", messages.SUCCESS)
        return redirect("admin:accounts_customer_change", customer.pk)


def _address_lines(customer: Customer) -> list[str]:
    town = " ".join(part for part in (customer.postal_code, customer.city) if part)
    lines = (customer.address_line1, customer.address_line2, town, customer.region)
    return [line for line in lines if line]
