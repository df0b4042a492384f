"""Row locks of the DNS app's tables, in the portal's lock order
(billing_portal/common/locks.py): a customer's DNS allowance before their zones."""

from __future__ import annotations

from accounts.models import Customer
from billing_portal.common.locks import LockKind, lock_first, lock_many, lock_one
from dnszones.models import DnsAllowance, Zone


def dns_allowance_lock_for(customer: Customer | int) -> DnsAllowance | None:
    """The customer's DNS allowance, locked, or None when they never had a DNS plan. Taken
    before adding a zone too, so concurrent additions count the plan's limit one by one."""
    return lock_first(DnsAllowance.objects.all(), kind=LockKind.DNS_ALLOWANCE, customer=customer)


def zone_lock(*, zone_id: int, customer: Customer) -> Zone:
    """The customer's zone, locked (DoesNotExist when it is not theirs)."""
    return lock_one(Zone.objects.all(), kind=LockKind.ZONE, pk=zone_id, customer=customer)


def zones_lock(*, customer: Customer | int, status: str) -> list[Zone]:
    """The customer's zones in `status`, locked in id order."""
    rows = Zone.objects.filter(customer=customer, status=status)
    return lock_many(rows, kind=LockKind.ZONE)
