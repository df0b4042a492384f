"""Bad input on the DNS pages answers with a message, 400 or 404 and changes nothing: plan
choices, request keys, record ids and the `?edit=` parameter (each answered 500 before)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from djmoney.money import Money

from credits.models import CreditEntry
from credits.services import credit_balance, credit_entry_append
from dnszones import services
from dnszones.models import Record
from dnszones.tests.plans import buy, dns_product
from provisioning.models import Service

pytestmark = pytest.mark.django_db

BAD_IDS = ["-1", "0", "99999999999999999999", "\u0661", "1e3", "abc", "", "\x00"]


@pytest.fixture(autouse=True)
def _delegated(monkeypatch):
    monkeypatch.setattr(services, "delegation_check", lambda name: None)


@pytest.fixture
def funded(customer):
    credit_entry_append(
        customer=customer,
        amount=Money(Decimal("100"), "USD"),
        kind="admin_add",
        idempotency_key="f",
    )
    return customer


@pytest.fixture
def zone(funded):
    buy(funded)
    zone = services.zone_create(customer=funded, name="shop.example")
    services.record_add(
        customer=funded, zone_id=zone.pk, name="www", type="A", ttl=300, content="192.0.2.1"
    )
    return zone


def _messages(client, response) -> str:
    assert response.status_code == 302
    return client.get(response.url).content.decode()


@pytest.mark.parametrize("plan", [*BAD_IDS, "999999"])
def test_an_unknown_or_malformed_plan_is_not_found(client, funded, plan):
    client.force_login(funded.user)
    url = reverse("dns:plan_confirm", args=[1]).replace("/1/", f"/{plan}/")
    assert client.get(url).status_code == 404
    assert client.post(url, {"request_key": "k1", "amount": "5.00"}).status_code == 404
    assert not Service.objects.exists()
    assert credit_balance(customer=funded, currency="USD") == Money(Decimal("100"), "USD")


@pytest.mark.parametrize("key", ["\x00", "k" * 10_000, "k\u202e1", "<script>"])
def test_a_bad_request_key_is_refused_with_a_message(client, funded, key):
    client.force_login(funded.user)
    plan = dns_product("Basic")
    response = client.post(
        reverse("dns:plan_confirm", args=[plan.pk]),
        {"request_key": key, "amount": "5.00"},
    )
    assert "This form has expired: reload the page and try again." in _messages(client, response)
    assert not Service.objects.exists()
    assert CreditEntry.objects.count() == 1  # the funding only


@pytest.mark.parametrize("edit", ["abc", "1.5", "-1", "99999999999999999999", "\u0661", "\x00"])
def test_a_malformed_edit_parameter_shows_the_zone_without_an_edit_form(client, zone, edit):
    client.force_login(zone.customer.user)
    response = client.get(reverse("dns:zone_detail", args=[zone.pk]), {"edit": edit})
    assert response.status_code == 200
    assert response.context["editing"] is None
    assert 'name="action" value="edit"' not in response.content.decode()


def test_the_edit_parameter_opens_that_records_form(client, zone):
    record = zone.records.get(name="www")
    client.force_login(zone.customer.user)
    response = client.get(reverse("dns:zone_detail", args=[zone.pk]), {"edit": record.pk})
    assert response.context["editing"] == record.pk
    assert 'name="action" value="edit"' in response.content.decode()


@pytest.mark.parametrize("action", ["delete", "edit"])
@pytest.mark.parametrize("record", BAD_IDS)
def test_a_malformed_record_id_is_not_found_and_changes_nothing(client, zone, action, record):
    before = list(Record.objects.values_list("pk", "name", "content"))
    client.force_login(zone.customer.user)
    data = {
        "action": action,
        "record": record,
        "name": "www",
        "type": "A",
        "ttl": "300",
        "content": "192.0.2.9",
    }
    response = client.post(reverse("dns:zone_detail", args=[zone.pk]), data)
    assert response.status_code == 404
    assert list(Record.objects.values_list("pk", "name", "content")) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ttl", "\u0661\u0662\u0663\u0664"),
        ("ttl", "99999999999999999999"),
        ("ttl", "1e3"),
        ("content", "\u0661\u0660 mail.example.com"),
    ],
)
def test_numbers_in_records_are_ascii_digits_in_range(client, zone, field, value):
    client.force_login(zone.customer.user)
    data = {
        "action": "add",
        "name": "mail",
        "type": "MX",
        "ttl": "300",
        "content": "10 mail.example.com",
        field: value,
    }
    response = client.post(reverse("dns:zone_detail", args=[zone.pk]), data)
    assert response.status_code == 400
    assert "must be" in response.content.decode()
    assert not zone.records.filter(name="mail").exists()


@pytest.mark.parametrize("action", ["", "add-all", "\x00", "<script>", "Delete"])
def test_an_unknown_record_action_is_refused_and_adds_nothing(client, zone, action):
    client.force_login(zone.customer.user)
    data = {"action": action, "name": "api", "type": "A", "ttl": "300", "content": "192.0.2.9"}
    response = client.post(reverse("dns:zone_detail", args=[zone.pk]), data)
    assert response.status_code == 400
    assert "Choose to add, edit or delete." in response.content.decode()
    assert not zone.records.filter(name="api").exists()
