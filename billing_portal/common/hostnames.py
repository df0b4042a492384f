"""Host and domain names as people type them, turned into the lower-case ASCII (punycode) form
that DNS, control panels and the database use. DNS zones and records (dnszones.validation)
and the order form share these rules.

Each function raises ValueError when the input is not such a name; callers turn that into
their own message for the customer.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

import idna
from publicsuffixlist import PublicSuffixList

NAME_MAX = 253
# One label of a host name (RFC 1123): letters, digits and inner hyphens, 1 to 63.
HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
# Labels of service names (_sip._tcp, _dmarc) may hold underscores; never IDN.
SERVICE_LABEL = re.compile(r"_[a-z0-9_-]{0,62}(?<!-)")


@lru_cache(maxsize=1)
def _public_suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list ships with the package: no network


def is_public_suffix(name: str) -> bool:
    """True for names anyone registers under (com, co.uk, github.io), which nobody owns."""
    return _public_suffixes().is_public(name)


def label_to_ascii(label: str) -> str:
    """One label in ASCII (IDNA 2008 with UTS 46 mapping: lower case, full-width forms)."""
    try:
        return idna.encode(label, uts46=True).decode()
    except idna.IDNAError as exc:  # also for empty labels and over-long ones
        raise ValueError(str(exc)) from exc


def host_name_ascii(raw: str, *, min_labels: int = 1, service_labels: bool = False) -> str:
    """`raw` as a host name: lower-case ASCII, no trailing dot, at most 253 characters, of
    RFC 1123 labels (and `_service` labels where allowed), never an IP address or a number."""
    name = (raw or "").strip().lower().removesuffix(".")
    if not name:
        raise ValueError("empty")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise ValueError("an IP address")
    ascii_name = ".".join(
        label if service_labels and label.startswith("_") else label_to_ascii(label)
        for label in name.split(".")
    )
    labels = ascii_name.split(".")
    if len(labels) < min_labels or len(ascii_name) > NAME_MAX:
        raise ValueError("length")
    if labels[-1].isdigit():  # no top-level domain is numeric (RFC 3696): "1.5" is a number
        raise ValueError("a number")
    for label in labels:
        pattern = SERVICE_LABEL if service_labels and label.startswith("_") else HOST_LABEL
        if not pattern.fullmatch(label):
            raise ValueError(f"label {label!r}")
    return ascii_name


def domain_name_ascii(raw: str) -> str:
    """`raw` as a domain a customer can own: a host name of two labels or more that is not
    a public suffix (example.com, shop.example.co.uk; not co.uk)."""
    name = host_name_ascii(raw, min_labels=2)
    if is_public_suffix(name):
        raise ValueError("a public suffix")
    return name
