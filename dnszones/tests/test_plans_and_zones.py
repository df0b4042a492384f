"""DNS plans through the common subscription engine: bought with an order whose invoice
account credit pays at once, renewed by the billing run's renewal invoice (paid from credit
when it covers it), reminded, suspended (zones off the server, records kept) and restored on
payment like any service, cancelled at the end of the period, switched with proration
(a smaller plan refused while the zones do not fit); limits come from the product. Then the
zone rules and the client area with isolation. The DNS server here is the local backend;
the real one is in test_powerdns."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import mail
from django.urls import reverse

from accounts.tests.helpers import assert_customer_isolation
from billing import services as billing
from billing.services.credit import credit_pay_invoice
from catalogue.models import Product
from credits.services import credit_balance
from dnszones import services
from dnszones.errors import DNSError, LimitReached
from dnszones.models import DnsAllowance, DnsOperation, Record, Zone
from dnszones.tests.plans import after_commit, at, buy, dns_product, fund, run, usd
from invoices.models import Invoice
from provisioning.errors import ProvisioningError
from provisioning.models import Service
from provisioning.services import service_end_at_period_end

pytestmark = pytest.mark.django_db
START = date(2026, 3, 10)
RENEWAL = date(2026, 4, 10)  # the first day the first month does not pay for


@pytest.fixture(autouse=True)
def _delegated(monkeypatch):
    """Every domain counts as delegated here (the check itself is tested against PowerDNS)."""
    monkeypatch.setattr(services, "delegation_check", lambda name: None)


@pytest.fixture(autouse=True)
def _on_start():
    with at(START):
        yield


def _allowance(customer) -> DnsAllowance:
    return DnsAllowance.objects.get(customer=customer)


def test_the_plans_are_hidden_products_of_the_dns_module():
    rows = [
        (p.name, p.kind, p.module, p.module_settings, p.prices.get(cycle="monthly").price)
        for p in Product.objects.filter(module="dns").order_by("sort_order")
    ]
    assert rows == [
        (
            "Basic",
            "dns_plan",
            "dns",
            {"plan": "Basic", "domain_limit": 3, "record_limit": 50},
            usd("5.00"),
        ),
        (
            "Pro",
            "dns_plan",
            "dns",
            {"plan": "Pro", "domain_limit": 10, "record_limit": 200},
            usd("15.00"),
        ),
        (
            "Enterprise",
            "dns_plan",
            "dns",
            {"plan": "Enterprise", "domain_limit": 50, "record_limit": 1000},
            usd("50.00"),
        ),
    ]
    assert not dns_product("Basic").group.is_visible  # sold on the DNS page only
    assert dns_product("Basic").placement.server_group.servers.get().module == "dns"


def test_buying_places_an_order_whose_invoice_credit_pays_at_once(customer):
    fund(customer, "12", "f")
    service, invoice = buy(customer)
    assert (invoice.kind, invoice.status, invoice.total) == ("order", "paid", usd("5.00"))
    service.refresh_from_db()
    assert (service.status, service.next_due_date) == ("active", RENEWAL)
    assert service.external_id == service.reference
    allowance = _allowance(customer)
    assert (allowance.plan_name, allowance.domain_limit, allowance.record_limit) == (
        "Basic",
        3,
        50,
    )
    assert (allowance.serving, allowance.service_ref) == (True, service.reference)
    assert credit_balance(customer=customer, currency="USD") == usd("7.00")


def test_buying_with_short_credit_leaves_the_invoice_to_the_usual_reminders(customer):
    fund(customer, "2", "f")
    service, invoice = buy(customer)
    assert (invoice.status, service.status) == ("unpaid", "pending")
    assert not DnsAllowance.objects.exists()
    with pytest.raises(DNSError, match="You need an active DNS plan"):
        services.zone_create(customer=customer, name="example.com")
    assert credit_balance(customer=customer, currency="USD") == usd("2.00")  # nothing taken
    fund(customer, "3", "g")
    with after_commit(execute=True):
        credit_pay_invoice(customer=customer, invoice_id=invoice.pk, idempotency_key="pay")
    service.refresh_from_db()
    assert service.status == "active"
    assert _allowance(customer).serving


def test_plan_switches_are_prorated_and_a_smaller_plan_must_fit(customer, time_machine):
    fund(customer, "100", "f")
    service, _ = buy(customer)
    time_machine.move_to(START + timedelta(days=15))  # 16 of 31 days left
    with after_commit(execute=True):
        change = billing.plan_change_request(
            customer=customer, service_id=service.pk, to_product_id=dns_product("Pro").pk
        )
    assert change.invoice.total == usd("5.16")  # (15 - 5) * 16 / 31
    with after_commit(execute=True):
        assert billing.credit_pay_invoice_if_covered(
            customer=customer, invoice_id=change.invoice_id
        )
    assert credit_balance(customer=customer, currency="USD") == usd("89.84")
    assert (_allowance(customer).plan_name, _allowance(customer).domain_limit) == ("Pro", 10)
    for n in range(4):
        services.zone_create(customer=customer, name=f"site{n}.example")
    with pytest.raises(ProvisioningError, match="Basic allows 3 domains; you have 4"):
        billing.plan_change_request(
            customer=customer, service_id=service.pk, to_product_id=dns_product("Basic").pk
        )
    Zone.objects.filter(name="site3.example").delete()
    with after_commit(execute=True):
        billing.plan_change_request(
            customer=customer, service_id=service.pk, to_product_id=dns_product("Basic").pk
        )
    service.refresh_from_db()
    assert service.product.name == "Basic"
    assert (_allowance(customer).plan_name, _allowance(customer).domain_limit) == ("Basic", 3)
    assert credit_balance(customer=customer, currency="USD") == usd("95.00")


def test_zone_and_record_limits_and_uniqueness(customer, other_customer):
    fund(customer, "10", "f")
    fund(other_customer, "10", "g")
    buy(customer)
    buy(other_customer)
    zone = services.zone_create(customer=customer, name="Example.COM.", apex_address="PROXYSRV")
    assert (zone.name, zone.records.get().content) == ("example.com", "PROXYSRV")
    with pytest.raises(DNSError, match="already a zone in another account"):
        services.zone_create(customer=other_customer, name="example.com")
    with pytest.raises(DNSError, match="already a zone in your account"):
        services.zone_create(customer=customer, name="example.com")
    with pytest.raises(DNSError, match="public suffix"):
        services.zone_create(customer=customer, name="co.uk")
    services.zone_create(customer=customer, name="two.example")
    services.zone_create(customer=customer, name="three.example")
    with pytest.raises(LimitReached, match="allows 3 domains"):
        services.zone_create(customer=customer, name="four.example")
    DnsAllowance.objects.filter(customer=customer).update(record_limit=2)
    services.record_add(
        customer=customer, zone_id=zone.pk, name="www", type="A", ttl=300, content="192.0.2.1"
    )
    with pytest.raises(LimitReached, match="2 records per zone"):
        services.record_add(
            customer=customer, zone_id=zone.pk, name="mail", type="A", ttl=300, content="192.0.2.2"
        )


def test_cname_exclusivity_and_duplicates(customer):
    fund(customer, "10", "f")
    buy(customer)
    zone = services.zone_create(customer=customer, name="example.com")
    add = lambda **kw: services.record_add(customer=customer, zone_id=zone.pk, ttl=300, **kw)  # noqa: E731
    add(name="www", type="A", content="192.0.2.1")
    with pytest.raises(DNSError, match="must be the only record"):
        add(name="www", type="CNAME", content="example.net")
    add(name="blog", type="CNAME", content="example.net")
    with pytest.raises(DNSError, match="has a CNAME"):
        add(name="blog", type="TXT", content="hello")
    with pytest.raises(DNSError, match="exists already"):
        add(name="www", type="A", content="192.0.2.1")
    with pytest.raises(DNSError, match="share one TTL"):
        services.record_add(
            customer=customer, zone_id=zone.pk, name="www", type="A", ttl=600, content="192.0.2.2"
        )
    assert zone.records.count() == 2


def test_the_renewal_invoice_is_paid_from_credit_when_it_covers_it(customer):
    fund(customer, "10", "f")
    service, _ = buy(customer)
    run(RENEWAL - timedelta(days=8))  # not due within the renewal horizon yet
    assert not Invoice.objects.filter(kind="renewal").exists()
    result = run(RENEWAL - timedelta(days=7))
    renewal = Invoice.objects.get(kind="renewal")
    assert (result.counts["renewals"], renewal.status, renewal.total) == (1, "paid", usd("5.00"))
    service.refresh_from_db()
    assert service.next_due_date == date(2026, 5, 10)
    assert credit_balance(customer=customer, currency="USD") == usd("0")
    run(RENEWAL - timedelta(days=7))  # twice the same day: billed once
    assert Invoice.objects.filter(kind="renewal").count() == 1


def test_renewal_without_credit_reminds_suspends_keeping_records_and_restores_on_payment(
    customer,
):
    fund(customer, "5", "f")
    service, _ = buy(customer)
    zone = services.zone_create(customer=customer, name="example.com")
    services.record_add(
        customer=customer, zone_id=zone.pk, name="www", type="A", ttl=300, content="192.0.2.1"
    )
    run(RENEWAL - timedelta(days=7))
    renewal = Invoice.objects.get(kind="renewal")
    assert renewal.status == "unpaid"  # no credit left to pay it
    sent = len(mail.outbox)
    run(RENEWAL - timedelta(days=3))  # the reminder before the due date
    assert len(mail.outbox) > sent
    assert renewal.number in mail.outbox[-1].subject + mail.outbox[-1].body
    run(RENEWAL + timedelta(days=2))  # overdue, within the grace days: still served
    service.refresh_from_db()
    assert (service.status, _allowance(customer).serving) == ("active", True)
    run(RENEWAL + timedelta(days=3))  # past the grace days: suspended
    service.refresh_from_db()
    zone.refresh_from_db()
    assert (service.status, zone.status, _allowance(customer).serving) == (
        "suspended",
        "suspended",
        False,
    )
    assert zone.records.count() == 1  # records kept
    assert DnsOperation.objects.filter(kind="delete_zone", zone_name="example.com").exists()
    with pytest.raises(DNSError, match="You need an active DNS plan"):
        services.record_add(
            customer=customer, zone_id=zone.pk, name="a", type="A", ttl=300, content="192.0.2.9"
        )

    fund(customer, "5", "g")
    with after_commit(execute=True):
        credit_pay_invoice(customer=customer, invoice_id=renewal.pk, idempotency_key="pay")
    service.refresh_from_db()
    zone.refresh_from_db()
    assert (service.status, zone.status, _allowance(customer).serving) == (
        "active",
        "active",
        True,
    )
    assert service.next_due_date == date(2026, 5, 10)  # the paid period counts from its due day
    assert DnsOperation.objects.filter(kind="create_zone", zone_name="example.com").count() == 2
    assert zone.records.count() == 1


def test_cancelling_at_period_end_stops_the_renewal_and_ends_the_plan(customer, client):
    fund(customer, "20", "f")
    service, _ = buy(customer)
    services.zone_create(customer=customer, name="example.com")
    client.force_login(customer.user)
    response = client.post(reverse("dns:zone_list"), {"action": "cancel"}, follow=True)
    assert "Your plan ends on 2026-04-10" in response.content.decode()
    service.refresh_from_db()
    assert service.ends_on == RENEWAL
    run(RENEWAL - timedelta(days=7))
    assert not Invoice.objects.filter(kind="renewal").exists()  # not renewed
    run(RENEWAL - timedelta(days=1))
    service.refresh_from_db()
    assert service.status == "active"  # the paid month runs to its end
    result = run(RENEWAL)
    service.refresh_from_db()
    assert (result.counts["ended"], service.status) == (1, "terminated")
    zone = Zone.objects.get()
    assert (zone.status, zone.records.count(), _allowance(customer).serving) == (
        "suspended",
        0,
        False,
    )
    assert credit_balance(customer=customer, currency="USD") == usd("15.00")


def test_cancelling_after_the_renewal_was_issued_cancels_the_unpaid_renewal(customer):
    fund(customer, "5", "f")
    service, _ = buy(customer)
    run(RENEWAL - timedelta(days=7))
    renewal = Invoice.objects.get(kind="renewal")
    assert renewal.status == "unpaid"
    service_end_at_period_end(service_id=service.pk)
    run(RENEWAL)
    service.refresh_from_db()
    renewal.refresh_from_db()
    assert (service.status, renewal.status) == ("terminated", "cancelled")


def test_buying_again_after_the_end_serves_the_kept_zones_again(customer):
    fund(customer, "20", "f")
    service, _ = buy(customer)
    zone = services.zone_create(customer=customer, name="example.com")
    services.record_add(
        customer=customer, zone_id=zone.pk, name="www", type="A", ttl=300, content="192.0.2.1"
    )
    service_end_at_period_end(service_id=service.pk)
    run(RENEWAL)
    zone.refresh_from_db()
    assert zone.status == "suspended"
    again, invoice = buy(customer, "Pro")
    zone.refresh_from_db()
    assert (invoice.status, zone.status, zone.records.count()) == ("paid", "active", 1)
    assert _allowance(customer).service_ref == again.reference
    # the ended service's calls no longer reach the new plan's allowance
    from dnszones.module import Panel

    Panel(None).suspend(service.reference, reason="late")
    assert _allowance(customer).serving


# --- client area --------------------------------------------------------------------------


def test_buy_add_a_zone_and_edit_records_in_the_client_area(client, customer):
    fund(customer, "10", "f")
    client.force_login(customer.user)
    page = client.get(reverse("dns:zone_list")).content.decode()
    assert 'data-testid="buy-basic"' in page
    confirm = reverse("dns:plan_confirm", args=[dns_product("Basic").pk])
    with after_commit(execute=True):
        client.post(confirm, {"request_key": "page-1", "amount": "5.00"})
    assert Service.objects.get(customer=customer).status == "active"
    response = client.post(
        reverse("dns:zone_list"), {"action": "zone", "name": "shop.example", "apex": "PROXYSRV"}
    )
    zone = Zone.objects.get()
    assert response.url == reverse("dns:zone_detail", args=[zone.pk])
    url = response.url
    bad = client.post(
        url, {"action": "add", "name": "www", "type": "A", "ttl": "300", "content": "300.1.1.1"}
    )
    assert bad.status_code == 400
    assert "is not an IPv4 address" in bad.content.decode()
    assert 'value="300.1.1.1"' in bad.content.decode()  # the input is kept for correction
    client.post(
        url, {"action": "add", "name": "www", "type": "A", "ttl": "300", "content": "192.0.2.5"}
    )
    record = Record.objects.get(name="www")
    client.post(
        url,
        {
            "action": "edit",
            "record": record.pk,
            "name": "www",
            "type": "A",
            "ttl": "600",
            "content": "192.0.2.6",
        },
    )
    record.refresh_from_db()
    assert (record.ttl, record.content) == (600, "192.0.2.6")
    page = client.get(url).content.decode()
    assert "PROXYSRV" in page
    assert "192.0.2.6" in page
    client.post(url, {"action": "delete", "record": record.pk})
    assert not Record.objects.filter(pk=record.pk).exists()
    delete = reverse("dns:zone_delete", args=[zone.pk])
    client.post(delete, {"confirm": "wrong.example"})
    assert Zone.objects.exists()
    client.post(delete, {"confirm": "shop.example"})
    assert not Zone.objects.exists()


def test_customers_cannot_see_or_change_another_customers_zones(client, customer, other_customer):
    fund(customer, "10", "f")
    buy(customer)
    zone = services.zone_create(customer=customer, name="example.com")
    record = services.record_add(
        customer=customer, zone_id=zone.pk, name="www", type="A", ttl=300, content="192.0.2.1"
    )
    assert_customer_isolation(
        client,
        urls=[
            reverse("dns:zone_detail", args=[zone.pk]),
            reverse("dns:zone_delete", args=[zone.pk]),
        ],
        owner=customer,
        intruder=other_customer,
    )
    # the intruder's own zone page cannot reach the owner's record either
    fund(other_customer, "10", "g")
    buy(other_customer)
    theirs = services.zone_create(customer=other_customer, name="other.example")
    client.force_login(other_customer.user)
    url = reverse("dns:zone_detail", args=[theirs.pk])
    response = client.post(url, {"action": "delete", "record": record.pk})
    assert response.status_code == 404
    response = client.post(
        url,
        {
            "action": "edit",
            "record": record.pk,
            "name": "www",
            "type": "A",
            "ttl": "300",
            "content": "198.51.100.1",
        },
    )
    assert response.status_code == 404
    record.refresh_from_db()
    assert record.content == "192.0.2.1"


def test_staff_see_every_zone_and_can_reconcile(client, customer):
    from accounts.tests.factories import UserFactory

    fund(customer, "10", "f")
    buy(customer)
    zone = services.zone_create(customer=customer, name="example.com")
    services.record_add(
        customer=customer, zone_id=zone.pk, name="www", type="A", ttl=300, content="192.0.2.1"
    )
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:dns_zone_change", args=[zone.pk])).content.decode()
    assert "192.0.2.1" in page
    listing = reverse("admin:dns_zone_changelist")
    response = client.post(
        listing, {"action": "reconcile", "_selected_action": [zone.pk]}, follow=True
    )
    assert "Checked 1 zones" in response.content.decode()
    assert client.get(reverse("admin:dns_dnsallowance_changelist")).status_code == 200


def test_paying_the_issued_renewal_after_cancelling_withdraws_the_cancellation(customer):
    fund(customer, "5", "f")
    service, _ = buy(customer)
    run(RENEWAL - timedelta(days=7))
    renewal = Invoice.objects.get(kind="renewal")
    service_end_at_period_end(service_id=service.pk)
    fund(customer, "5", "g")
    with after_commit(execute=True):
        credit_pay_invoice(customer=customer, invoice_id=renewal.pk, idempotency_key="pay")
    service.refresh_from_db()
    assert (service.ends_on, service.next_due_date) == (None, date(2026, 5, 10))
    run(RENEWAL)
    service.refresh_from_db()
    assert service.status == "active"  # the paid month is served
