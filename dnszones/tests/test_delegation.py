"""The delegation check is chosen by configuration. The embedded default (the local backend)
uses the demo stand-in: names under the demo domains (DNS_DEMO_DOMAINS, `.test` and
`.example`) count as delegated and nothing is asked of any resolver; other names are refused
with what to use instead. A real backend asks DNS (tested against PowerDNS in
test_powerdns). The suite's network guard fails any test that would reach a resolver."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from djmoney.money import Money

from credits.services import credit_entry_append
from dnszones import delegation, services
from dnszones.errors import NotDelegated
from dnszones.models import Zone
from dnszones.tests.plans import buy

pytestmark = pytest.mark.django_db


@pytest.fixture
def planned(customer):
    credit_entry_append(
        customer=customer,
        amount=Money(Decimal("5"), "USD"),
        kind="admin_add",
        idempotency_key="fund",
    )
    buy(customer)
    return customer


def test_the_embedded_default_adds_demo_domains_without_asking_any_resolver(planned, settings):
    assert (settings.DNS_BACKEND, settings.DNS_DELEGATION_CHECK) == ("local", "")
    for name in ("shop.test", "My-Site.Example", "www.portal.test"):
        services.zone_create(customer=planned, name=name)
    assert sorted(Zone.objects.values_list("name", flat=True)) == [
        "my-site.example",
        "shop.test",
        "www.portal.test",
    ]


def test_the_embedded_default_refuses_other_domains_and_says_which_it_takes(planned):
    for name in ("nodepoint.eu", "example.com", "test.example.org"):
        with pytest.raises(NotDelegated, match=r"demo domains.*\.test.*\.example") as caught:
            services.zone_create(customer=planned, name=name)
        assert "try again" not in caught.value.message
    assert not Zone.objects.exists()


def test_the_demo_domains_are_configurable(planned, settings):
    settings.DNS_DEMO_DOMAINS = ["demo.internal"]
    services.zone_create(customer=planned, name="shop.demo.internal")
    with pytest.raises(NotDelegated, match=r"\.demo\.internal"):
        services.zone_create(customer=planned, name="shop.test")


def test_the_checker_follows_the_backend_unless_configured(settings):
    assert delegation.delegation_checker() is delegation.demo_delegation_check
    settings.DNS_BACKEND = "powerdns"
    assert delegation.delegation_checker() is delegation.resolver_delegation_check
    settings.DNS_DELEGATION_CHECK = "demo"
    assert delegation.delegation_checker() is delegation.demo_delegation_check
    settings.DNS_BACKEND, settings.DNS_DELEGATION_CHECK = "local", "resolver"
    assert delegation.delegation_checker() is delegation.resolver_delegation_check


def test_the_client_area_adds_a_demo_zone_and_explains_a_refusal(client, planned):
    client.force_login(planned.user)
    response = client.post(reverse("dns:zone_list"), {"action": "zone", "name": "shop.test"})
    zone = Zone.objects.get(name="shop.test", customer=planned)
    assert response.url == reverse("dns:zone_detail", args=[zone.pk])
    page = client.post(
        reverse("dns:zone_list"), {"action": "zone", "name": "nodepoint.eu"}, follow=True
    ).content.decode()
    assert "demo domains" in page
    assert "try again in a few minutes" not in page
    assert not Zone.objects.filter(name="nodepoint.eu").exists()


def test_the_zone_form_says_which_domains_the_demo_takes(client, planned, settings):
    client.force_login(planned.user)
    page = client.get(reverse("dns:zone_list")).content.decode()
    assert "demo domain" in page
    assert "<code>.test</code> or <code>.example</code>" in page
    assert "at your registrar" not in page
    settings.DNS_BACKEND = "powerdns"
    page = client.get(reverse("dns:zone_list")).content.decode()
    assert "at your registrar to ns1.nodepoint.eu and ns2.nodepoint.eu" in page
    assert "demo domain" not in page


def test_an_unknown_delegation_check_stops_the_portal_from_starting():
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {
        **os.environ,
        "READ_DOT_ENV_FILE": "false",
        "DEBUG": "true",
        "DNS_DELEGATION_CHECK": "registrar",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env=env,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "DNS_DELEGATION_CHECK must be resolver, demo or empty" in result.stderr
