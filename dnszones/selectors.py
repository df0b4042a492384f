"""Reads of the DNS app for views and the API, always scoped by the caller."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from django.db.models import Count, Q, QuerySet

from accounts.models import Customer
from dnszones.models import DnsAllowance, Record, Zone

if TYPE_CHECKING:  # django-stubs is a development requirement only
    from django_stubs_ext import WithAnnotations


def dns_allowance_for_customer(*, customer: Customer) -> DnsAllowance | None:
    """What the customer's DNS plan allows and whether it is served (None: never had one)."""
    return DnsAllowance.objects.filter(customer=customer).first()


class ZoneCounts(TypedDict):
    record_count: int


def zones_for_customer(*, customer: Customer) -> QuerySet[WithAnnotations[Zone, ZoneCounts]]:
    zones = Zone.objects.filter(customer=customer).annotate(record_count=Count("records"))
    return zones.order_by("name")


def zone_get_for_customer(*, customer: Customer, zone_id: int) -> Zone:
    return Zone.objects.get(pk=zone_id, customer=customer)


# A zone's records in the order of its unique index (zone, name, type, content): a page of
# them is an index range, and the order is total, so a record is on exactly one page.
RECORD_ORDER = ("name", "type", "content")


def records_of_zone(*, zone: Zone, name: str = "", type: str = "") -> QuerySet[Record]:
    """The zone's records, those whose name contains `name` and of `type` when given."""
    records = zone.records.order_by(*RECORD_ORDER)
    if name:
        records = records.filter(name__icontains=name)
    if type:
        records = records.filter(type=type)
    return records


def record_position(*, records: QuerySet[Record], record: Record) -> int | None:
    """Where `record` is in `records` (0 first), counted by the database in the list's own
    order and collation; None when the record is not in the list."""
    if not records.filter(pk=record.pk).exists():
        return None
    before = (
        Q(name__lt=record.name)
        | Q(name=record.name, type__lt=record.type)
        | Q(name=record.name, type=record.type, content__lt=record.content)
    )
    return records.filter(before).count()
