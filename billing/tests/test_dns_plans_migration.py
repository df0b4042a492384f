"""DNS plans become products and their subscriptions services (billing 0002, then dns 0006
removes the old tables): on a database holding subscriptions in every state, no zone, record
or paid period is lost, and the migrated services go on through the common engine."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from djmoney.money import Money

from accounts.tests.factories import CustomerFactory
from billing.services import billing_run
from dnszones.models import DnsAllowance, Record, Zone
from invoices.models import Invoice
from provisioning.models import Server, Service

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BEFORE = [("billing", "0001_billingrun_from_invoices"), ("dns", "0005_dnsallowance")]
STATE = [*BEFORE, ("provisioning", "0011_service_ends_on"), ("catalogue", "0001_initial")]
PERIOD_END = date(2026, 4, 10)


def usd(value: str) -> Money:
    return Money(Decimal(value), "USD")


def _migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


# status, auto_renew, zone status, records: one subscription in every state
CASES = {
    "active": ("active", True, "active", 2),
    "grace": ("grace", True, "active", 1),
    "suspended": ("suspended", True, "suspended", 3),
    "cancelled": ("cancelled", False, "suspended", 1),
    "ending": ("active", False, "active", 0),
}


def _old_world(apps) -> dict[str, int]:
    """Plans, subscriptions in every state, their zones and records, in the old tables."""
    DnsPlan = apps.get_model("dns", "DnsPlan")
    DnsSubscription = apps.get_model("dns", "DnsSubscription")
    OldZone = apps.get_model("dns", "Zone")
    OldRecord = apps.get_model("dns", "Record")
    basic = DnsPlan.objects.create(
        name="Basic", currency="USD", price=usd("5"), domain_limit=3, record_limit=50
    )
    pro = DnsPlan.objects.create(
        name="Pro",
        currency="USD",
        price=usd("15"),
        domain_limit=10,
        record_limit=200,
        sort_order=1,
    )
    customers = {}
    for n, (case, (status, auto_renew, zone_status, records)) in enumerate(CASES.items()):
        customer = CustomerFactory()
        customers[case] = customer.pk
        DnsSubscription.objects.create(
            customer_id=customer.pk,
            plan=pro if case == "active" else basic,
            status=status,
            started_at=datetime(2026, 1, 10, tzinfo=UTC),
            period_start=PERIOD_END - timedelta(days=31),
            period_end=PERIOD_END,
            auto_renew=auto_renew,
            grace_until=PERIOD_END + timedelta(days=7) if status == "grace" else None,
        )
        zone = OldZone.objects.create(
            customer_id=customer.pk, name=f"site{n}.example", status=zone_status, serial=7
        )
        for r in range(records):
            OldRecord.objects.create(
                zone=zone, name=f"r{r}", type="A", ttl=300, content=f"192.0.2.{r + 1}"
            )
    return customers


def test_subscriptions_in_every_state_become_services_keeping_zones_records_and_periods():
    old_apps = _migrate(BEFORE).loader.project_state(STATE).apps
    try:
        customers = _old_world(old_apps)
        zones_before = sorted(Zone.objects.values_list("name", "status", "serial", "customer_id"))
        records_before = sorted(Record.objects.values_list("zone__name", "name", "content"))
    finally:
        _migrate(_latest())

    assert "dns_dnssubscription" not in connection.introspection.table_names()
    services = {
        case: Service.objects.select_related("product").get(customer_id=pk)
        for case, pk in customers.items()
    }
    expected = {
        "active": ("Pro", "active", None, usd("15")),
        "grace": ("Basic", "active", None, usd("5")),
        "suspended": ("Basic", "suspended", None, usd("5")),
        "cancelled": ("Basic", "terminated", None, usd("5")),
        "ending": ("Basic", "active", PERIOD_END, usd("5")),
    }
    for case, service in services.items():
        assert (
            service.product.name,
            service.status,
            service.ends_on,
            service.recurring_amount,
        ) == expected[case], case
        assert service.next_due_date == PERIOD_END, case  # the paid period is kept
        assert (service.product.module, service.product.kind, service.cycle) == (
            "dns",
            "dns_plan",
            "monthly",
        )
        assert service.external_id == service.reference
        allowance = DnsAllowance.objects.get(customer_id=service.customer_id)
        assert allowance.service_ref == service.reference
        assert allowance.serving == (case in ("active", "grace", "ending")), case
    assert DnsAllowance.objects.get(customer_id=customers["active"]).domain_limit == 10
    assert not services["active"].product.group.is_visible
    server = Server.objects.get(module="dns")
    assert server.current_accounts == 4  # the live ones
    assert {s.server_id for s in services.values()} == {server.pk}
    # nothing about zones and records changed
    assert sorted(Zone.objects.values_list("name", "status", "serial", "customer_id")) == (
        zones_before
    )
    assert sorted(Record.objects.values_list("zone__name", "name", "content")) == records_before

    # the common engine takes over: renewals bill from the old period end, except for the
    # ended one and the one cancelled at period end, which the run ends on its day
    billing_run(today=PERIOD_END - timedelta(days=7))
    renewed = set(
        Invoice.objects.filter(kind="renewal").values_list("lines__service__customer_id", flat=True)
    )
    assert renewed == {customers["active"], customers["grace"], customers["suspended"]}
    starts = set(
        Invoice.objects.filter(kind="renewal").values_list("lines__period_start", flat=True)
    )
    assert starts == {PERIOD_END}
    billing_run(today=PERIOD_END)
    ending = Service.objects.get(pk=services["ending"].pk)
    assert ending.status == "terminated"
