"""DNS plans paid from credit (buy once, prorated changes, renewals with a moving clock, grace,
suspension and restoration, cancellation), limits, and the client area with isolation. The
DNS server here is the local backend; the real one is in test_powerdns."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from djmoney.money import Money

from accounts.tests.helpers import assert_customer_isolation
from billing.services import billing_run
from credits.services import credit_balance, credit_entry_append
from dnszones import services
from dnszones.errors import DNSError, LimitReached
from dnszones.models import DnsOperation, DnsPlan, DnsSubscription, Record, Zone

pytestmark = pytest.mark.django_db
START = date(2026, 3, 10)


def usd(value: str) -> Money:
    return Money(Decimal(value), "USD")


@pytest.fixture(autouse=True)
def _delegated(monkeypatch):
    """Every domain counts as delegated here (the check itself is tested against PowerDNS)."""
    monkeypatch.setattr(services, "delegation_check", lambda name: None)


def _fund(customer, amount: str, key: str) -> None:
    credit_entry_append(
        customer=customer, amount=usd(amount), kind="admin_add", idempotency_key=key
    )


def _plan(name: str) -> DnsPlan:
    return DnsPlan.objects.get(name=name)


def _buy(customer, name="Basic", key="k1", today=START) -> DnsSubscription:
    return services.dns_plan_buy(
        customer=customer, plan_id=_plan(name).pk, request_key=key, today=today
    )


def test_seeded_plans():
    rows = list(DnsPlan.objects.values_list("name", "price", "domain_limit"))
    assert rows == [
        ("Basic", Decimal("5.00"), 3),
        ("Pro", Decimal("15.00"), 10),
        ("Enterprise", Decimal("50.00"), 50),
    ]


def test_buying_debits_credit_once_and_needs_enough(customer):
    with pytest.raises(DNSError, match=r"Not enough account credit: this costs \$5\.00"):
        _buy(customer)
    assert not DnsSubscription.objects.exists()
    _fund(customer, "12", "f")
    first = _buy(customer)
    again = _buy(customer)  # the same form submitted twice
    assert first.pk == again.pk
    assert credit_balance(customer=customer, currency="USD") == usd("7.00")
    assert (first.status, first.period_end) == ("active", date(2026, 4, 10))
    with pytest.raises(DNSError, match="already have the Basic plan"):
        _buy(customer, key="k2")


def test_plan_changes_are_prorated_and_respect_limits(customer):
    _fund(customer, "100", "f")
    sub = _buy(customer)
    halfway = START + timedelta(days=15)  # 16 of 31 days left
    services.dns_plan_buy(
        customer=customer, plan_id=_plan("Pro").pk, request_key="up", today=halfway
    )
    assert credit_balance(customer=customer, currency="USD") == usd("89.84")  # 95 - 10*16/31
    for n in range(4):
        services.zone_create(customer=customer, name=f"site{n}.example")
    with pytest.raises(LimitReached, match="allows 3 domains; you have 4"):
        services.dns_plan_buy(
            customer=customer, plan_id=_plan("Basic").pk, request_key="dn", today=halfway
        )
    Zone.objects.filter(name="site3.example").delete()
    services.dns_plan_buy(
        customer=customer, plan_id=_plan("Basic").pk, request_key="dn2", today=halfway
    )
    sub.refresh_from_db()
    assert sub.plan.name == "Basic"
    assert credit_balance(customer=customer, currency="USD") == usd("95.00")


def test_zone_and_record_limits_and_uniqueness(customer, other_customer):
    _fund(customer, "10", "f")
    _fund(other_customer, "10", "g")
    _buy(customer)
    _buy(other_customer, key="other")
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
    DnsPlan.objects.filter(name="Basic").update(record_limit=2)
    services.record_add(
        customer=customer, zone_id=zone.pk, name="www", type="A", ttl=300, content="192.0.2.1"
    )
    with pytest.raises(LimitReached, match="2 records per zone"):
        services.record_add(
            customer=customer, zone_id=zone.pk, name="mail", type="A", ttl=300, content="192.0.2.2"
        )


def test_cname_exclusivity_and_duplicates(customer):
    _fund(customer, "10", "f")
    _buy(customer)
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


def test_renewal_grace_suspension_and_restoration_with_a_moving_clock(
    customer, django_capture_on_commit_callbacks
):
    _fund(customer, "5", "f")
    sub = _buy(customer)
    zone = services.zone_create(customer=customer, name="example.com")
    services.record_add(
        customer=customer, zone_id=zone.pk, name="www", type="A", ttl=300, content="192.0.2.1"
    )
    renewal_day = sub.period_end
    with django_capture_on_commit_callbacks(execute=True):
        billing_run(today=renewal_day - timedelta(days=1))  # not due yet
        billing_run(today=renewal_day)  # due, credit is 0
    sub.refresh_from_db()
    assert (sub.status, sub.grace_until) == ("grace", renewal_day + timedelta(days=7))
    assert "Add credit to keep your DNS plan" in mail.outbox[-1].subject
    with django_capture_on_commit_callbacks(execute=True):
        billing_run(today=renewal_day + timedelta(days=6))
    assert DnsSubscription.objects.get().status == "grace"
    with django_capture_on_commit_callbacks(execute=True):
        billing_run(today=renewal_day + timedelta(days=7))
    sub.refresh_from_db()
    zone.refresh_from_db()
    assert (sub.status, zone.status) == ("suspended", "suspended")
    assert zone.records.count() == 1  # records kept
    assert DnsOperation.objects.filter(kind="delete_zone", zone_name="example.com").exists()
    assert "suspended" in mail.outbox[-1].subject

    _fund(customer, "5", "g")
    with django_capture_on_commit_callbacks(execute=True):
        run = billing_run(today=renewal_day + timedelta(days=8))
    sub.refresh_from_db()
    zone.refresh_from_db()
    assert run.counts["dns_renewed"] == 1
    assert (sub.status, zone.status) == ("active", "active")
    assert sub.period_end == date(2026, 5, 10)
    assert DnsOperation.objects.filter(kind="create_zone", zone_name="example.com").count() == 2
    assert credit_balance(customer=customer, currency="USD") == usd("0")
    billing_run(today=renewal_day + timedelta(days=8))  # twice the same day: charged once
    assert credit_balance(customer=customer, currency="USD") == usd("0")


def test_cancelling_stops_auto_renew_and_the_plan_ends(
    customer, django_capture_on_commit_callbacks
):
    _fund(customer, "20", "f")
    sub = _buy(customer)
    services.zone_create(customer=customer, name="example.com")
    services.dns_subscription_cancel(customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        billing_run(today=sub.period_end)
    sub.refresh_from_db()
    assert sub.status == "cancelled"
    assert Zone.objects.get().status == "suspended"
    assert credit_balance(customer=customer, currency="USD") == usd("15.00")  # not renewed


# --- client area --------------------------------------------------------------------------


def test_buy_add_a_zone_and_edit_records_in_the_client_area(client, customer):
    _fund(customer, "10", "f")
    client.force_login(customer.user)
    page = client.get(reverse("dns:zone_list")).content.decode()
    assert 'data-testid="buy-basic"' in page
    confirm = reverse("dns:plan_confirm", args=[_plan("Basic").pk])
    client.post(confirm, {"request_key": "page-1", "amount": "5.00"})
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
    _fund(customer, "10", "f")
    _buy(customer)
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
    _fund(other_customer, "10", "g")
    _buy(other_customer, key="o")
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

    _fund(customer, "10", "f")
    _buy(customer)
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
