"""Billing reads for views and the API, always scoped by the caller."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Customer
from billing.models import TokenPurchase


def token_purchases_for_customer(*, customer: Customer) -> QuerySet[TokenPurchase]:
    """Token purchases the customer has paid for or been given (not unpaid purchases)."""
    return (
        TokenPurchase.objects.filter(customer=customer)
        .exclude(status=TokenPurchase.Status.AWAITING_PAYMENT)
        .select_related("invoice")
        .order_by("-created_at", "-id")
    )
