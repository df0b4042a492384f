"""Row locks of the DNS app's tables, in the portal's lock order
(billing_portal/common/locks.py): a customer's DNS subscription before their zones."""

from __future__ import annotations

from typing import Any

from accounts.models import Customer
from billing_portal.common.locks import LockKind, lock_first, lock_many, lock_one
from dnszones.models import DnsSubscription, Zone


def dns_subscription_lock(*, related: tuple[str, ...] = (), **lookups: Any) -> DnsSubscription:
    """The one DNS subscription matching `lookups` (its id or its customer), locked."""
    rows = DnsSubscription.objects.select_related(*related)
    return lock_one(rows, kind=LockKind.DNS_SUBSCRIPTION, **lookups)


def dns_subscription_lock_for(customer: Customer) -> DnsSubscription | None:
    """The customer's DNS subscription, locked, or None when they never had one. Taken
    before adding a zone too, so concurrent additions count the plan's limit one by one."""
    rows = DnsSubscription.objects.all()
    return lock_first(rows, kind=LockKind.DNS_SUBSCRIPTION, customer=customer)


def zone_lock(*, zone_id: int, customer: Customer) -> Zone:
    """The customer's zone, locked (DoesNotExist when it is not theirs)."""
    return lock_one(Zone.objects.all(), kind=LockKind.ZONE, pk=zone_id, customer=customer)


def zones_lock(*, customer: Customer, status: str) -> list[Zone]:
    """The customer's zones in `status`, locked in id order."""
    rows = Zone.objects.filter(customer=customer, status=status)
    return lock_many(rows, kind=LockKind.ZONE)
