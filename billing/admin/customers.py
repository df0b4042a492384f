"""Staff erasure of a customer: accounts' customer screen with an "Erase personal data"
page. Erasure ends the customer's services on their panels first and removes saved cards at
the gateway (billing.services.data_rights), so the screen is billing's; it registers
accounts' model, so its admin URLs (admin/accounts/customer/…) stay."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path

from accounts.admin import CustomerAdmin as AccountsCustomerAdmin
from accounts.models import Customer
from billing import services as billing
from billing_portal.common.admin import permission_check
from billing_portal.common.errors import DomainError
from billing_portal.common.request import RequestMeta


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


admin.site.unregister(Customer)


@admin.register(Customer)
class CustomerAdmin(AccountsCustomerAdmin):
    change_form_template = "admin/accounts/customer/change_form.html"
    readonly_fields = (*AccountsCustomerAdmin.readonly_fields, "erased_at")

    has_erase_permission = permission_check("accounts.erase_customer")

    def get_urls(self):
        return [
            path(
                "<int:customer_id>/erase/",
                self.admin_site.admin_view(self.erase_view),
                name="accounts_customer_erase",
            ),
            *super().get_urls(),
        ]

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
