"""Query filters of the staff money lists (django-filter): status, dates and the customer."""

from __future__ import annotations

import django_filters
from django import forms
from django.conf import settings
from django.db.models import Q, QuerySet
from django_countries import countries

from accounts.models import Customer
from billing.models import TokenPurchase
from credits.models import CreditEntry
from invoices.models import Invoice, UsageRecord
from payments.models import Payment
from provisioning.models import ProvisioningOperation

# Ids are PostgreSQL bigints: a filter by a larger one matches nothing instead of failing.
BIGINT_MAX = 2**63 - 1


class CustomerIdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("field_name", "customer_id")
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(**kwargs)


class StaffCustomerFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method="search_filter", max_length=100, label="Email, name or company contains"
    )
    country = django_filters.ChoiceFilter(choices=list(countries))
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")

    class Meta:
        model = Customer
        fields = ["country"]

    def search_filter(self, queryset: QuerySet[Customer], name: str, value: str):
        return queryset.filter(
            Q(user__email__icontains=value) | Q(name__icontains=value) | Q(company__icontains=value)
        )


class StaffInvoiceFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Invoice.Status.choices)
    kind = django_filters.ChoiceFilter(choices=Invoice.Kind.choices)
    customer = CustomerIdFilter()
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")
    issued_after = django_filters.DateFilter(field_name="issued_at", lookup_expr="date__gte")
    issued_before = django_filters.DateFilter(field_name="issued_at", lookup_expr="date__lte")
    due_after = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")

    class Meta:
        model = Invoice
        fields = ["status", "kind"]


class StaffPaymentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Payment.Status.choices)
    method = django_filters.ChoiceFilter(choices=Payment.Method.choices)
    gateway = django_filters.CharFilter(max_length=32)
    customer = CustomerIdFilter()
    received_after = django_filters.DateFilter(field_name="received_at", lookup_expr="date__gte")
    received_before = django_filters.DateFilter(field_name="received_at", lookup_expr="date__lte")

    class Meta:
        model = Payment
        fields = ["status", "method", "gateway"]


class StaffLedgerFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=CreditEntry.Kind.choices)
    currency = django_filters.ChoiceFilter(choices=[(c, c) for c in settings.CURRENCIES])
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")

    class Meta:
        model = CreditEntry
        fields = ["kind", "currency"]


class StaffTokenFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=TokenPurchase.Status.choices)
    source = django_filters.ChoiceFilter(choices=TokenPurchase.Source.choices)
    customer = CustomerIdFilter()
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")

    class Meta:
        model = TokenPurchase
        fields = ["status", "source"]


class StaffOperationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=[
            (ProvisioningOperation.Status.FAILED.value, "Failed"),
            (ProvisioningOperation.Status.UNCERTAIN.value, "Needs checking"),
        ]
    )
    kind = django_filters.ChoiceFilter(choices=ProvisioningOperation.Kind.choices)
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")

    class Meta:
        model = ProvisioningOperation
        fields = ["status", "kind"]


class UsageRecordFilter(django_filters.FilterSet):
    metric = django_filters.CharFilter(max_length=50)
    recorded_after = django_filters.DateFilter(field_name="recorded_at", lookup_expr="date__gte")
    recorded_before = django_filters.DateFilter(field_name="recorded_at", lookup_expr="date__lte")

    class Meta:
        model = UsageRecord
        fields = ["metric"]
