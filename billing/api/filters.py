"""Query filters of the list endpoints (django-filter): status and dates."""

from __future__ import annotations

import django_filters

from invoices.models import Invoice
from provisioning.models import Service


class ServiceFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Service.Status.choices)
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")
    due_after = django_filters.DateFilter(field_name="next_due_date", lookup_expr="gte")
    due_before = django_filters.DateFilter(field_name="next_due_date", lookup_expr="lte")

    class Meta:
        model = Service
        fields = ["status"]


class InvoiceFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Invoice.Status.choices)
    issued_after = django_filters.DateFilter(field_name="issued_at", lookup_expr="date__gte")
    issued_before = django_filters.DateFilter(field_name="issued_at", lookup_expr="date__lte")
    due_after = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")

    class Meta:
        model = Invoice
        fields = ["status"]
