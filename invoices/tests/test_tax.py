"""Which tax applies: location, region, exemption, EU reverse charge."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.tests.factories import CustomerFactory
from billing_portal.common.vat import eu_vat_number_valid
from catalogue.tests.factories import TaxRateFactory
from invoices.tax import REVERSE_CHARGE_NOTE, tax_treatment_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _rates(settings):
    settings.SELLER_DETAILS = {**settings.SELLER_DETAILS, "country": "DE"}
    TaxRateFactory(country="DE", rate=Decimal("19"))
    TaxRateFactory(country="NL", rate=Decimal("21"))
    TaxRateFactory(name="Sales tax", country="US", region="", rate=Decimal("0"))
    TaxRateFactory(name="Sales tax", country="US", region="NY", rate=Decimal("8.875"))


def test_consumer_pays_their_countrys_rate():
    treatment = tax_treatment_for(CustomerFactory(country="NL", company="", tax_id=""))
    assert (treatment.name, treatment.rate, treatment.reverse_charge) == ("VAT", 21, False)


def test_region_rate_wins_over_the_country_rate():
    assert tax_treatment_for(CustomerFactory(country="US", region="ny")).rate == Decimal("8.875")
    assert tax_treatment_for(CustomerFactory(country="US", region="TX")).rate == 0


def test_country_without_a_rate_pays_no_tax():
    assert tax_treatment_for(CustomerFactory(country="JP")).rate == 0


def test_exempt_customer_pays_no_tax_but_keeps_the_location_rate():
    treatment = tax_treatment_for(CustomerFactory(country="DE", tax_exempt=True))
    assert treatment.rate == 0
    assert treatment.location_rate == 19
    assert "exempt" in treatment.note


def test_eu_business_in_another_state_with_a_valid_vat_number_is_reverse_charged():
    customer = CustomerFactory(country="NL", company="Acme BV", tax_id="NL004495445B01")
    treatment = tax_treatment_for(customer)
    assert treatment.rate == 0
    assert treatment.reverse_charge
    assert treatment.note == REVERSE_CHARGE_NOTE


@pytest.mark.parametrize(
    ("country", "company", "tax_id"),
    [
        ("DE", "Acme GmbH", "DE136695976"),  # same country as the seller
        ("NL", "", "NL004495445B01"),  # not a business
        ("NL", "Acme BV", "NL004495446B01"),  # checksum fails
        ("NL", "Acme BV", "DE136695976"),  # another state's number
    ],
)
def test_no_reverse_charge_otherwise(country, company, tax_id):
    customer = CustomerFactory(country=country, company=company, tax_id=tax_id)
    treatment = tax_treatment_for(customer)
    assert not treatment.reverse_charge
    assert treatment.rate > 0


@pytest.mark.parametrize(
    ("number", "country", "valid"),
    [
        ("DE136695976", "DE", True),
        ("136695976", "DE", True),
        ("EL094259216", "GR", True),
        ("DE136695977", "DE", False),
        ("GB980780684", "GB", False),
    ],
)
def test_vat_number_format_validation(number, country, valid):
    assert eu_vat_number_valid(number=number, country_code=country) is valid
