"""Reads of the DNS app for views and the API, always scoped by the caller."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from django.db.models import Count, QuerySet

from accounts.models import Customer
from dnszones.models import DnsPlan, DnsSubscription, Record, Zone

if TYPE_CHECKING:  # django-stubs is a development requirement only
    from django_stubs_ext import WithAnnotations


def dns_plans_for_sale() -> QuerySet[DnsPlan]:
    return DnsPlan.objects.filter(is_active=True)


def dns_subscription_for_customer(*, customer: Customer) -> DnsSubscription | None:
    return DnsSubscription.objects.filter(customer=customer).select_related("plan").first()


class ZoneCounts(TypedDict):
    record_count: int


def zones_for_customer(*, customer: Customer) -> QuerySet[WithAnnotations[Zone, ZoneCounts]]:
    return Zone.objects.filter(customer=customer).annotate(record_count=Count("records"))


def zone_get_for_customer(*, customer: Customer, zone_id: int) -> Zone:
    return Zone.objects.get(pk=zone_id, customer=customer)


def records_of_zone(*, zone: Zone) -> QuerySet[Record]:
    return zone.records.order_by("name", "type", "content")
