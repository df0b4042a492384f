"""Against a real PowerDNS Authoritative server: zones and records created in the portal are
answered over DNS, edits and deletions too, reconciliation repairs a record changed behind
the portal's back, and the delegation check sees real referrals."""

from __future__ import annotations

from decimal import Decimal

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest
import requests
from djmoney.money import Money

from credits.services import credit_entry_append
from dnszones import services
from dnszones.errors import InvalidRecord, NotDelegated
from dnszones.models import Zone
from dnszones.tests.conftest import PROXY_IP
from dnszones.tests.plans import after_commit, buy, dns_product

pytestmark = pytest.mark.django_db


def ask(pdns, name: str, rtype: str) -> list[str]:
    """What the server answers for name/type (empty when nothing)."""
    query = dns.message.make_query(name, rtype)
    response = dns.query.udp(query, "127.0.0.1", port=pdns.dns_port, timeout=3)
    return sorted(
        item.to_text()
        for rrset in response.answer
        if rrset.rdtype == dns.rdatatype.from_text(rtype)
        for item in rrset
    )


def soa_serial(pdns, zone: str) -> int:
    return int(ask(pdns, zone, "SOA")[0].split()[2])


@pytest.fixture
def dns_customer(customer):
    credit_entry_append(
        customer=customer,
        amount=Money(Decimal("20"), "USD"),
        kind="admin_add",
        idempotency_key="dns-test-credit",
    )
    buy(customer)
    return customer


def test_buy_basic_create_zone_with_proxysrv_and_the_server_answers(
    parent_zone, dns_customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        zone = services.zone_create(
            customer=dns_customer, name="shop.test", apex_address="PROXYSRV"
        )
    assert ask(parent_zone, "shop.test", "A") == [PROXY_IP]
    assert ask(parent_zone, "shop.test", "NS") == ["ns1.nodepoint.eu.", "ns2.nodepoint.eu."]
    assert soa_serial(parent_zone, "shop.test") == Zone.objects.get(pk=zone.pk).serial


def test_edits_and_deletions_are_served_and_the_serial_rises(
    parent_zone, dns_customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        zone = services.zone_create(customer=dns_customer, name="shop.test")
    serials = [soa_serial(parent_zone, "shop.test")]
    changes = [
        lambda: services.record_add(
            customer=dns_customer,
            zone_id=zone.pk,
            name="www",
            type="A",
            ttl=300,
            content="192.0.2.10",
        ),
        lambda: services.record_add(
            customer=dns_customer,
            zone_id=zone.pk,
            name="www",
            type="A",
            ttl=300,
            content="192.0.2.11",
        ),
        lambda: services.record_add(
            customer=dns_customer,
            zone_id=zone.pk,
            name="@",
            type="MX",
            ttl=300,
            content="10 mail.shop.test",
        ),
        lambda: services.record_add(
            customer=dns_customer,
            zone_id=zone.pk,
            name="@",
            type="TXT",
            ttl=300,
            content="v=spf1 mx -all",
        ),
    ]
    for change in changes:
        with django_capture_on_commit_callbacks(execute=True):
            change()
        serials.append(soa_serial(parent_zone, "shop.test"))
    assert ask(parent_zone, "www.shop.test", "A") == ["192.0.2.10", "192.0.2.11"]
    assert ask(parent_zone, "shop.test", "MX") == ["10 mail.shop.test."]
    assert ask(parent_zone, "shop.test", "TXT") == ['"v=spf1 mx -all"']

    record = zone.records.get(content="192.0.2.11")
    with django_capture_on_commit_callbacks(execute=True):
        services.record_update(
            customer=dns_customer,
            record_id=record.pk,
            name="api",
            type="A",
            ttl=300,
            content="192.0.2.12",
        )
    serials.append(soa_serial(parent_zone, "shop.test"))
    assert ask(parent_zone, "www.shop.test", "A") == ["192.0.2.10"]
    assert ask(parent_zone, "api.shop.test", "A") == ["192.0.2.12"]
    with django_capture_on_commit_callbacks(execute=True):
        services.record_delete(customer=dns_customer, record_id=record.pk)
    serials.append(soa_serial(parent_zone, "shop.test"))
    assert ask(parent_zone, "api.shop.test", "A") == []
    assert serials == sorted(set(serials))  # strictly rising on every change

    with django_capture_on_commit_callbacks(execute=True):
        services.zone_delete(customer=dns_customer, zone_id=zone.pk, confirm="shop.test")
    response = requests.get(
        parent_zone.zone_api("shop.test."), timeout=5, headers={"X-API-Key": parent_zone.api_key}
    )
    assert response.status_code == 404


def test_reconcile_repairs_a_record_changed_behind_the_portals_back(
    parent_zone, dns_customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        zone = services.zone_create(customer=dns_customer, name="shop.test")
        services.record_add(
            customer=dns_customer,
            zone_id=zone.pk,
            name="www",
            type="A",
            ttl=300,
            content="192.0.2.10",
        )
    tamper = {
        "rrsets": [
            {
                "name": "www.shop.test.",
                "type": "A",
                "ttl": 300,
                "changetype": "REPLACE",
                "records": [{"content": "198.51.100.66", "disabled": False}],
            },
            {
                "name": "rogue.shop.test.",
                "type": "TXT",
                "ttl": 300,
                "changetype": "REPLACE",
                "records": [{"content": '"not ours"', "disabled": False}],
            },
        ]
    }
    requests.patch(
        parent_zone.zone_api("shop.test."),
        json=tamper,
        timeout=5,
        headers={"X-API-Key": parent_zone.api_key},
    ).raise_for_status()
    assert ask(parent_zone, "www.shop.test", "A") == ["198.51.100.66"]
    counts = services.dns_reconcile()
    assert counts["repaired_sets"] == 2
    assert ask(parent_zone, "www.shop.test", "A") == ["192.0.2.10"]
    assert ask(parent_zone, "rogue.shop.test", "TXT") == []
    assert services.dns_reconcile()["repaired_sets"] == 0  # nothing left to repair


def test_invalid_records_change_nothing_on_the_server(
    parent_zone, dns_customer, django_capture_on_commit_callbacks
):
    from dnszones.tests.test_validation import INVALID

    with django_capture_on_commit_callbacks(execute=True):
        zone = services.zone_create(customer=dns_customer, name="shop.test")
    headers = {"X-API-Key": parent_zone.api_key}
    before = requests.get(parent_zone.zone_api("shop.test."), headers=headers, timeout=5).json()
    for rtype, rows in INVALID.items():
        for name, content in rows:
            with pytest.raises(InvalidRecord):
                services.record_add(
                    customer=dns_customer,
                    zone_id=zone.pk,
                    name=name,
                    type=rtype,
                    ttl=300,
                    content=content,
                )
    after = requests.get(parent_zone.zone_api("shop.test."), headers=headers, timeout=5).json()
    assert after["rrsets"] == before["rrsets"]
    assert zone.records.count() == 0


def test_the_delegation_check_against_a_real_referral(parent_zone, dns_customer):
    with pytest.raises(NotDelegated, match=r"ns1\.other-dns\.example"):
        services.zone_create(customer=dns_customer, name="elsewhere.test")
    with pytest.raises(NotDelegated, match=r"\(now: none\)"):
        services.zone_create(customer=dns_customer, name="www.shop.test")  # exists, no NS
    assert Zone.objects.count() == 0


@pytest.mark.parametrize("through", ["DNS_RESOLVER", "the system resolver"])
def test_a_domain_that_does_not_exist_is_reported_as_not_registered(
    parent_zone, dns_customer, settings, monkeypatch, through
):
    if through == "the system resolver":  # configured as /etc/resolv.conf would: this server
        settings.DNS_RESOLVER = ""
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = ["127.0.0.1"], parent_zone.dns_port
        monkeypatch.setattr(dns.resolver, "default_resolver", resolver)
    with pytest.raises(NotDelegated, match=r"unknown\.test is not registered") as caught:
        services.zone_create(customer=dns_customer, name="unknown.test")
    assert "try again" not in caught.value.message
    assert Zone.objects.count() == 0


def test_acceptance_buy_basic_add_a_delegated_zone_with_proxysrv_through_the_client_area(
    client, parent_zone, customer, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    credit_entry_append(
        customer=customer,
        amount=Money(Decimal("10"), "USD"),
        kind="admin_add",
        idempotency_key="acceptance",
    )
    client.force_login(customer.user)
    basic = dns_product("Basic").pk
    with after_commit(execute=True):
        client.post(
            reverse("dns:plan_confirm", args=[basic]), {"request_key": "acc", "amount": "5.00"}
        )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("dns:zone_list"), {"action": "zone", "name": "shop.test"})
    zone = Zone.objects.get(name="shop.test")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            response.url,
            {"action": "add", "name": "www", "type": "A", "ttl": "300", "content": "PROXYSRV"},
        )
    assert ask(parent_zone, "www.shop.test", "A") == [PROXY_IP]
    page = client.get(reverse("dns:zone_detail", args=[zone.pk])).content.decode()
    assert "PROXYSRV" in page


def test_suspended_zones_leave_the_server_and_come_back_on_payment(
    parent_zone, dns_customer, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from billing.services import billing_run
    from billing.services.credit import credit_pay_invoice
    from invoices.models import Invoice
    from provisioning.models import Service

    with django_capture_on_commit_callbacks(execute=True):
        zone = services.zone_create(
            customer=dns_customer, name="shop.test", apex_address="192.0.2.44"
        )
    service = Service.objects.get(customer=dns_customer)
    credit_entry_append(
        customer=dns_customer,
        amount=Money(Decimal("-15"), "USD"),
        kind="admin_remove",
        idempotency_key="spend-it",
    )
    for days in (-7, 3):  # the renewal invoice (unpaid: no credit), then suspension
        with django_capture_on_commit_callbacks(execute=True):
            billing_run(today=service.next_due_date + timedelta(days=days))
    zone.refresh_from_db()
    assert zone.status == "suspended"
    assert ask(parent_zone, "shop.test", "A") == []
    credit_entry_append(
        customer=dns_customer,
        amount=Money(Decimal("5"), "USD"),
        kind="admin_add",
        idempotency_key="top-up",
    )
    renewal = Invoice.objects.get(kind="renewal")
    with django_capture_on_commit_callbacks(execute=True):
        credit_pay_invoice(customer=dns_customer, invoice_id=renewal.pk, idempotency_key="pay")
    assert ask(parent_zone, "shop.test", "A") == ["192.0.2.44"]


def test_a_push_while_powerdns_is_down_is_retried_until_it_is_up(
    parent_zone, dns_customer, settings, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from dnszones.models import DnsOperation

    good_url = settings.DNS_POWERDNS_URL
    settings.DNS_POWERDNS_URL = "http://127.0.0.1:9"  # nothing listens: connection refused
    with django_capture_on_commit_callbacks(execute=True):
        services.zone_create(customer=dns_customer, name="shop.test", apex_address="192.0.2.7")
    operation = DnsOperation.objects.get(kind="create_zone")
    assert (operation.status, operation.attempts) == ("pending", 1)
    assert "could not be reached" in operation.last_error
    assert ask(parent_zone, "shop.test", "A") == []
    settings.DNS_POWERDNS_URL = good_url
    later = timezone.now() + timedelta(hours=1)
    assert operation.pk in services.dns_operations_sweep(now=later)
    operation = services.dns_operation_run(operation_id=operation.pk, now=later)
    assert (operation.status, operation.attempts) == ("succeeded", 2)
    assert ask(parent_zone, "shop.test", "A") == ["192.0.2.7"]
