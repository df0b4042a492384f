"""Payment reads for views and the API, always scoped by the caller."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Customer
from payments.models import Payment


def payment_list_for_customer(*, customer: Customer) -> QuerySet[Payment]:
    return Payment.objects.filter(customer=customer).select_related("invoice")
