"""EU VAT numbers: membership and an offline format and checksum check (python-stdnum), never
a network lookup. Pure, so the profile form (accounts) and tax calculation (invoices) share it
without accounts importing invoices."""

from __future__ import annotations

from stdnum.eu import vat


def is_eu_member(country_code: str) -> bool:
    return country_code.lower() in vat.MEMBER_STATES


def _vat_prefix(country_code: str) -> str:
    return "EL" if country_code == "GR" else country_code


def eu_vat_number_valid(*, number: str, country_code: str) -> bool:
    """True when `number` is a well-formed VAT number of `country_code` (an EU state); the
    country prefix may be left out."""
    if not is_eu_member(country_code):
        return False
    prefix = _vat_prefix(country_code)
    compact = "".join((number or "").split()).upper().replace("-", "").replace(".", "")
    if not compact.startswith(prefix):
        compact = prefix + compact
    return vat.is_valid(compact)
