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
    rates = TaxRate.objects.filter(country=customer.country.code, is_active=True)
    return _rate_of(customer, list(rates))


def _rate_of(customer: Customer, rates: list[TaxRate]) -> TaxRate | None:
    by_region = {rate.region.lower(): rate for rate in rates}
    return by_region.get(customer.region.lower()) or by_region.get("")


def _treatment(customer: Customer, rate: TaxRate | None) -> TaxTreatment:
    name, location_rate = (rate.name, rate.rate) if rate else ("Tax", Decimal("0"))
    if customer.tax_exempt:
        return TaxTreatment(name, Decimal("0"), location_rate, note=EXEMPT_NOTE)
    if is_eu_reverse_charge(customer, settings.SELLER_DETAILS["country"]):
        return TaxTreatment(
            name, Decimal("0"), location_rate, reverse_charge=True, note=REVERSE_CHARGE_NOTE
        )
    return TaxTreatment(name, location_rate, location_rate)


def tax_treatment_for(customer: Customer) -> TaxTreatment:
    return _treatment(customer, tax_rate_for(customer))


@dataclass(frozen=True)
class TaxRates:
    """Every active rate, read once (one query) for a batch of invoices: the billing run
    prices thousands of renewals with the rules of `tax_treatment_for`, without a look-up
    per invoice."""

    by_country: dict[str, list[TaxRate]]

    def treatment_for(self, customer: Customer) -> TaxTreatment:
        rates = self.by_country.get(customer.country.code, [])
        return _treatment(customer, _rate_of(customer, rates))


def tax_rates_load() -> TaxRates:
    by_country: dict[str, list[TaxRate]] = {}
    for rate in TaxRate.objects.filter(is_active=True):
        by_country.setdefault(rate.country.code, []).append(rate)
    return TaxRates(by_country)
