"""Writes of the catalogue's orders and client group memberships. Placing and cancelling an
order span apps (services, invoices) and are billing's flows (billing/services/ordering.py);
the order's own rows are written here, inside billing's transaction, after billing has taken
the locks. A customer's client group is set here (staff, in admin)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.locks import customer_lock
from accounts.models import Customer, User
from billing_portal.common.audit import audit_record
from billing_portal.common.request import RequestMeta
from catalogue.audit import ClientGroupAudit
from catalogue.models import ClientGroup, Coupon, CouponRedemption, CustomerGroup, Order


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


@transaction.atomic
def customer_group_set(
    *,
    customer_id: int,
    group: ClientGroup | None,
    actor: User | None = None,
    meta: RequestMeta | None = None,
) -> CustomerGroup | None:
    """Put the customer in `group` (None: in no group), audited. Only invoices priced from
    now on see the change; issued ones keep their lines. Setting the group the customer is
    in already changes nothing. The customer's row is locked so two staff edits queue."""
    customer = customer_lock(customer_id)
    current = CustomerGroup.objects.filter(customer=customer).select_related("group").first()
    before = current.group if current else None
    if before == group:
        return current
    if group is None:
        CustomerGroup.objects.filter(customer=customer).delete()
        membership = None
    else:
        membership, _created = CustomerGroup.objects.update_or_create(
            customer=customer, defaults={"group": group, "joined_at": timezone.now()}
        )
    audit_record(
        action=ClientGroupAudit.CUSTOMER_GROUP_CHANGED,
        actor=actor,
        customer=customer,
        target=membership or customer,
        meta=meta,
        details={"from": before.name if before else "", "to": group.name if group else ""},
    )
    return membership
