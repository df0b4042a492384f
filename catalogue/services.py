"""Writes of the catalogue's orders. Placing and cancelling an order span apps (services,
invoices) and are billing's flows (billing/services/ordering.py); the order's own rows are
written here, inside billing's transaction, after billing has taken the locks."""

from __future__ import annotations

from django.utils import timezone

from accounts.models import Customer
from catalogue.models import Coupon, CouponRedemption, Order


def order_create(
    *, customer: Customer, coupon: Coupon | None, idempotency_key: str | None = None
) -> Order:
    """A pending order, with the coupon's redemption when one is used (its limits were
    checked with the coupon locked)."""
    order = Order.objects.create(
        customer=customer, coupon=coupon, idempotency_key=idempotency_key or None
    )
    if coupon is not None:
        CouponRedemption.objects.create(coupon=coupon, customer=customer, order=order)
    return order


def order_mark_cancelled(order: Order) -> None:
    """The locked pending order is cancelled: its coupon use no longer counts."""
    order.status = Order.Status.CANCELLED
    order.cancelled_at = timezone.now()
    order.save(update_fields=["status", "cancelled_at"])


def order_mark_completed(*, order_id: int) -> bool:
    """The order's invoice is paid: a pending order is completed. True if it changed."""
    pending = Order.objects.filter(pk=order_id, status=Order.Status.PENDING)
    return pending.update(status=Order.Status.COMPLETED) > 0
