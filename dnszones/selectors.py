"""Reads of the DNS app for views and the API, always scoped by the caller."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from django.db.models import Count, QuerySet

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
    return Zone.objects.filter(customer=customer).annotate(record_count=Count("records"))


def zone_get_for_customer(*, customer: Customer, zone_id: int) -> Zone:
    return Zone.objects.get(pk=zone_id, customer=customer)


def records_of_zone(*, zone: Zone) -> QuerySet[Record]:
    return zone.records.order_by("name", "type", "content")
