"""Profile editing through the client area."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.audit import AccountAudit
from accounts.models import Customer
from accounts.tests.factories import UserFactory
from billing_portal.common.audit import AuditEvent

pytestmark = pytest.mark.django_db

PROFILE = reverse("accounts:profile")


def _form_data(customer: Customer, **overrides) -> dict:
    data = {
        "name": customer.name,
        "company": customer.company,
        "address_line1": "",
        "address_line2": "",
        "city": "",
        "region": "",
        "postal_code": "",
        "country": str(customer.country),
        "phone": "",
        "tax_id": "",
        "preferred_currency": customer.preferred_currency,
        "credit_auto_apply": "on",
    }
    return {**data, **overrides}


def test_profile_edit_saves_and_audits_the_changed_fields(client, customer):
    client.force_login(customer.user)
    response = client.post(
        PROFILE,
        _form_data(customer, city="Berlin", phone="+49 30 901820", preferred_currency="EUR"),
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.city == "Berlin"
    assert str(customer.phone) == "+4930901820"
    assert customer.preferred_currency == "EUR"
    event = AuditEvent.objects.get(action=AccountAudit.PROFILE_CHANGED)
    assert sorted(event.details["fields"]) == ["city", "phone", "preferred_currency"]
    assert event.actor == customer.user


def test_unchanged_profile_records_nothing(client, customer):
    client.force_login(customer.user)
    assert client.post(PROFILE, _form_data(customer)).status_code == 302
    assert not AuditEvent.objects.filter(action=AccountAudit.PROFILE_CHANGED).exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"preferred_currency": "XXX"}, "preferred_currency"),
        ({"country": "ZZ"}, "country"),
        ({"name": ""}, "name"),
        ({"name": "Ada\u202eecalevol"}, "name"),  # a text-direction override
        ({"company": "Evil\x1b[2J Ltd"}, "company"),  # a terminal escape
        ({"address_line1": "1 Road\nX-Injected: yes"}, "address_line1"),
        ({"city": "Berlin\x00"}, "city"),
        ({"tax_id": "DE\t123"}, "tax_id"),
    ],
)
def test_invalid_profile_is_refused_and_nothing_changes(client, customer, overrides, field):
    client.force_login(customer.user)
    before = Customer.objects.values().get(pk=customer.pk)
    response = client.post(PROFILE, _form_data(customer, **overrides))
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert Customer.objects.values().get(pk=customer.pk) == before
    assert not AuditEvent.objects.filter(action=AccountAudit.PROFILE_CHANGED).exists()


def test_user_without_profile_is_sent_to_create_one(client, db):
    user = UserFactory()
    client.force_login(user)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response.url == PROFILE
    response = client.post(
        PROFILE, {"name": "Sam Staff", "country": "FR", "preferred_currency": "EUR"}
    )
    assert response.status_code == 302
    assert Customer.objects.get(user=user).name == "Sam Staff"
    assert client.get(reverse("dashboard")).status_code == 200


@pytest.mark.parametrize(
    ("country", "tax_id", "valid"),
    [
        ("DE", "DE136695976", True),
        ("DE", "136695976", True),
        ("DE", "DE136695977", False),
        ("NL", "DE136695976", False),
        ("US", "12-3456789", True),  # outside the EU: free text
    ],
)
def test_eu_vat_numbers_are_validated(client, customer, country, tax_id, valid):
    client.force_login(customer.user)
    response = client.post(PROFILE, _form_data(customer, country=country, tax_id=tax_id))
    if valid:
        assert response.status_code == 302
    else:
        assert response.status_code == 200
        assert "Enter a valid" in response.context["form"].errors["tax_id"][0]
