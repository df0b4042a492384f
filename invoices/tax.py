"""Which tax applies to a customer: location rate, exemption and EU reverse charge.

The EU VAT number check (billing_portal.common.vat) is a format and checksum validation,
never a network lookup; staff can still mark a customer tax-exempt by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from accounts.models import Customer
from billing_portal.common.vat import eu_vat_number_valid, is_eu_member
from catalogue.models import TaxRate

REVERSE_CHARGE_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient (Art. 196 VAT Directive)."
)
EXEMPT_NOTE = "Tax exempt customer."


@dataclass(frozen=True)
class TaxTreatment:
    name: str
    rate: Decimal  # percent charged: the location rate, or 0 when exempt / reverse charge
    location_rate: Decimal  # percent at the buyer's location, to strip from inclusive prices
    reverse_charge: bool = False
    note: str = ""


def is_eu_reverse_charge(customer: Customer, seller_country: str) -> bool:
    buyer_country = customer.country.code
    return (
        bool(customer.company)
        and is_eu_member(seller_country)
        and is_eu_member(buyer_country)
        and buyer_country != seller_country
        and eu_vat_number_valid(number=customer.tax_id, country_code=buyer_country)
    )


def tax_rate_for(customer: Customer) -> TaxRate | None:
    """The active rate for the customer's region, else their country's, else none."""
    rates = {
        rate.region.lower(): rate
        for rate in TaxRate.objects.filter(country=customer.country.code, is_active=True)
    }
    return rates.get(customer.region.lower()) or rates.get("")


def tax_treatment_for(customer: Customer) -> TaxTreatment:
    rate = tax_rate_for(customer)
    name, location_rate = (rate.name, rate.rate) if rate else ("Tax", Decimal("0"))
    if customer.tax_exempt:
        return TaxTreatment(name, Decimal("0"), location_rate, note=EXEMPT_NOTE)
    if is_eu_reverse_charge(customer, settings.SELLER_DETAILS["country"]):
        return TaxTreatment(
            name, Decimal("0"), location_rate, reverse_charge=True, note=REVERSE_CHARGE_NOTE
        )
    return TaxTreatment(name, location_rate, location_rate)
