"""Billing reads for views and the API, always scoped by the caller."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet, Sum

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


def tokens_added_for_customer(*, customer: Customer) -> Decimal:
    """The VPS tokens the portal has added to the customer's VirtFusion account and not taken
    back (delivered purchases and grants), from the portal's own records: VirtFusion holds the
    live balance, which also falls as servers use tokens; one query."""
    delivered = TokenPurchase.objects.filter(
        customer=customer, status=TokenPurchase.Status.DELIVERED
    ).aggregate(total=Sum("tokens"))["total"]
    return delivered if delivered is not None else Decimal("0")
