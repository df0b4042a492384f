"""Staff screens of the credit ledger: balances and entries are read-only; credit is added and
removed through the credit services, always with a reason. Token purchases and refund
shortfalls are billing's (billing/admin.py)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from djmoney.money import Money

from accounts.models import Customer
from billing_portal.common.admin import (
    LargeTableAdminMixin,
    ReadOnlyAdminMixin,
    autocomplete,
    currency_filter,
    permission_check,
)
from billing_portal.common.errors import DomainError
from credits import services
from credits.models import CreditAccount, CreditEntry


class CreditChangeForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.all(), widget=autocomplete(CreditAccount, "customer")
    )
    direction = forms.ChoiceField(choices=[("add", "Add credit"), ("remove", "Remove credit")])
    amount = forms.DecimalField(min_value=Decimal("0.01"), max_digits=14, decimal_places=2)
    currency = forms.ChoiceField(choices=())
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    request_key = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in settings.CURRENCIES]


@admin.register(CreditAccount)
class CreditAccountAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("customer", "currency", "balance", "last_sequence", "updated_at")
    list_filter = (currency_filter(),)
    # The unique (customer, currency) index's order; "customer" would sort by the joined
    # customer's name, reading every account.
    ordering = ("customer_id", "currency")
    search_fields = ("customer__name", "customer__company", "customer__user__email")
    list_select_related = ("customer",)
    change_list_template = "admin/credits/creditaccount/change_list.html"

    has_change_credit_permission = permission_check("credits.change_credit")

    def get_urls(self):
        view = self.admin_site.admin_view(self.change_credit_view)
        return [path("change-credit/", view, name="credits_change_credit"), *super().get_urls()]

    def change_credit_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_credit_permission(request):
            raise PermissionDenied
        initial = {"request_key": uuid.uuid4().hex, "customer": request.GET.get("customer")}
        form = CreditChangeForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            change = (
                services.credit_add_by_staff
                if data["direction"] == "add"
                else services.credit_remove_by_staff
            )
            try:
                change(
                    customer=data["customer"],
                    amount=Money(data["amount"], data["currency"]),
                    reason=data["reason"],
                    staff=request.user,
                    request_key=data["request_key"],
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, "The credit balance was changed.", messages.SUCCESS)
                return redirect("admin:credits_creditaccount_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Add or remove credit",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/credits/change_credit.html", context)


@admin.register(CreditEntry)
class CreditEntryAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "account",
        "sequence",
        "kind",
        "amount",
        "balance_after",
        "staff_user",
        "reason",
    )
    list_filter = ("kind", currency_filter(), ("created_at", admin.DateFieldListFilter))
    search_fields = (
        "account__customer__name",
        "account__customer__user__email",
        "idempotency_key",
        "payment_reference",
    )
    list_select_related = ("account__customer", "staff_user")
    # Newest first across accounts (the model's order, by sequence, is per account).
    ordering = ("-created_at", "-id")
