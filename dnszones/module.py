"""The `dns` provisioning module: DNS plans are catalogue products billed as provisioning
services like any other, and this module's "panel" is the portal's own zone service.

- create: the plan's limits (the product's module settings) become the customer's
  `DnsAllowance`, and zones kept from an earlier plan are served again;
- suspend and terminate: the customer's zones are taken off the DNS server, every record
  kept (a terminated plan's zones stay in the portal, unserved, so a new plan brings them
  back; the customer deletes a zone themselves);
- unsuspend: the zones are served again;
- change_package: the new plan's limits; `change_check` refuses, before anything is invoiced,
  a plan smaller than the zones and records the customer has.

Provisioning loads this module by its path (setting PROVISIONING_MODULES) and never imports
it; so it describes itself with plain attributes (see provisioning/panels/registry.py) and
answers with objects of the panel interface's shape instead of importing its classes. The
operation kernel calls it outside any transaction, like a panel; each call is safe to
repeat (provisioning.panels.base).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings
from django.urls import reverse

from catalogue.models import Product
from dnszones import services

NAME = "dns"
LABEL = "DNS zones (the portal's zone service)"
PRODUCT_SETTINGS = (
    {"name": "plan", "label": "Plan name shown to the customer", "required": False},
    {"name": "domain_limit", "label": "Domains", "kind": int},
    {"name": "record_limit", "label": "Records per zone", "kind": int},
)


class _Spec(Protocol):
    """What this module reads of provisioning's AccountSpec."""

    reference: str
    customer_id: int
    settings: dict[str, Any]


@dataclass(frozen=True)
class Provisioned:
    """The answer to create, in the shape of provisioning's ProvisionResult."""

    external_id: str
    username: str = ""
    secrets: dict[str, str] = field(default_factory=dict)
    panel_url: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class Panel:
    """The zone service, seen as a panel: the external id of a DNS service is its service
    reference (the allowance's `service_ref`)."""

    def __init__(self, credentials: Any) -> None:
        self.credentials = credentials  # nothing to reach: the zones are the portal's

    def test_connection(self) -> None:
        return None

    def create(self, spec: _Spec) -> Provisioned:
        limits = services.dns_limits_from_settings(spec.settings)
        services.dns_allowance_grant(
            customer_id=spec.customer_id, service_ref=spec.reference, limits=limits
        )
        return Provisioned(
            external_id=spec.reference,
            panel_url=f"{settings.PORTAL_BASE_URL}{reverse('dns:zone_list')}",
            details={"domain_limit": limits.domain_limit, "record_limit": limits.record_limit},
        )

    def suspend(self, external_id: str, *, reason: str) -> None:
        services.dns_allowance_serving_set(service_ref=external_id, serving=False)

    def unsuspend(self, external_id: str) -> None:
        services.dns_allowance_serving_set(service_ref=external_id, serving=True)

    def terminate(self, external_id: str) -> None:
        # The zones go off the server with their records kept (see the module docstring).
        services.dns_allowance_serving_set(service_ref=external_id, serving=False)

    def change_package(self, external_id: str, *, settings: dict[str, Any]) -> None:
        limits = services.dns_limits_from_settings(settings)
        services.dns_allowance_change(service_ref=external_id, limits=limits)


def change_check(*, customer_id: int, to_product: Product) -> str:
    """Why the customer's DNS service cannot move to `to_product` ("" when it can)."""
    limits = services.dns_limits_from_settings(
        to_product.module_settings, plan_name=to_product.name
    )
    return services.dns_limits_refusal(customer_id=customer_id, limits=limits)
