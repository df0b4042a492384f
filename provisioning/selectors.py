"""Service reads for views and the API, always scoped by the caller."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Customer
from provisioning.models import Service


def service_list_for_customer(*, customer: Customer) -> QuerySet[Service]:
    return (
        Service.objects.filter(customer=customer)
        .select_related("product")
        .prefetch_related("gateway_subscriptions")
    )
