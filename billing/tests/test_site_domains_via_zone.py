"""A WordPress site's custom domain set up in one click through the customer's own DNS zone
here (billing.services.site_domains): the zone gets `A PROXYSRV`, the site gets the domain
without waiting for DNS; a refusal (quota, no zone, other records) leaves both unchanged;
another customer's site is a 404 and touches nothing."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.test import TestCase
from django.urls import reverse

from dnszones.models import Record
from dnszones.services import zone_create
from dnszones.tests.plans import buy, fund
from provisioning.models import ProvisioningOperation, Service
from provisioning.panels.sandbox_sites import SandboxSites
from provisioning.tests.factories import ServerFactory, panel_product, service_on

pytestmark = pytest.mark.django_db
Op = ProvisioningOperation


@pytest.fixture(autouse=True)
def _fresh_reads():
    cache.clear()  # live reads and the sandbox's state


@pytest.fixture
def site(customer) -> Service:
    fund(customer, "12", "f")
    buy(customer)  # a DNS plan, so the customer can have zones here
    zone_create(customer=customer, name="example.test")
    server = ServerFactory(module="sandbox")
    return service_on(
        server,
        customer=customer,
        product=panel_product(server, stands_in_for="wordpress", plan="basic"),
        status=Service.Status.ACTIVE,
        external_id="sandbox-svc-9",
    )


def _via_zone(client, service: Service, domain: str, **extra):
    url = reverse("provisioning:site_domain_via_zone", args=[service.pk])
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url, {"click_key": uuid.uuid4().hex, "domain": domain}, **extra)


def _records(zone: str = "example.test") -> list[tuple[str, str, str]]:
    return list(
        Record.objects.filter(zone__name=zone)
        .order_by("name")
        .values_list("name", "type", "content")
    )


def test_the_page_offers_the_customers_zones(client, site):
    client.force_login(site.customer.user)
    page = client.get(reverse("provisioning:service_detail", args=[site.pk])).content.decode()
    assert "in one click in your DNS zone here (example.test)" in page
    assert 'data-testid="action-add_domain_via_zone"' in page


@pytest.mark.parametrize(("domain", "name"), [("www.example.test", "www"), ("example.test", "@")])
def test_one_click_adds_the_proxysrv_record_and_the_domain(client, site, domain, name):
    client.force_login(site.customer.user)
    response = _via_zone(client, site, domain)
    operation = site.operations.get(kind=Op.Kind.ACTION)
    assert response.url.endswith(f"?op={operation.pk}#action-status")
    assert operation.status == Op.Status.SUCCEEDED
    assert operation.payload["params"] == {"domain": domain, "checked": "zone"}
    assert (name, "A", "PROXYSRV") in _records()
    assert SandboxSites().site_domains(site.external_id) == [domain]
    # with htmx the answer is the status box; the record is there already, so not added twice
    again = _via_zone(client, site, "www.example.test", HTTP_HX_REQUEST="true")
    assert b'id="action-status"' in again.content


def test_a_refusal_leaves_the_zone_unchanged(client, site):
    for domain in ("a.example.test", "b.example.test", "c.example.test"):
        SandboxSites().site_domain_add(site.external_id, domain=domain)  # the quota is full
    before = _records()
    client.force_login(site.customer.user)
    page = _via_zone(client, site, "www.example.test", follow=True).content.decode()
    assert "Your basic plan allows 3 custom domains" in page
    assert _records() == before
    assert not site.operations.filter(kind=Op.Kind.ACTION).exists()


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("www.other.test", "You have no DNS zone here that holds www.other.test"),
        ("mail.example.test", "has other address records in your zone"),
        ("not a domain", "is not a domain name"),
    ],
)
def test_bad_input_gives_a_message_and_changes_nothing(client, site, domain, message):
    Record.objects.create(
        zone=site.customer.zones.get(), name="mail", type="A", ttl=3600, content="203.0.113.5"
    )
    before = _records()
    client.force_login(site.customer.user)
    page = _via_zone(client, site, domain, follow=True).content.decode()
    assert message in page
    assert _records() == before
    assert not site.operations.filter(kind=Op.Kind.ACTION).exists()
    assert SandboxSites().site_domains(site.external_id) == []


def test_another_customers_site_is_not_found_and_nothing_changes(client, site, other_customer):
    fund(other_customer, "12", "g")
    buy(other_customer)
    zone_create(customer=other_customer, name="evil.test")
    client.force_login(other_customer.user)
    assert _via_zone(client, site, "www.evil.test").status_code == 404
    assert _records("evil.test") == []
    assert not site.operations.exists()
