"""Whether a service may move to another product: the module's own check (e.g. the `dns`
module refuses a plan smaller than the zones and records the customer has)."""

from __future__ import annotations

from catalogue.models import Product
from provisioning.errors import PlanNotAvailable
from provisioning.models import Service
from provisioning.panels.registry import MODULES


def service_package_check(*, service: Service, to_product: Product) -> None:
    """PlanNotAvailable (a ProvisioningError) with the module's reason when `service` cannot move to
    `to_product`; nothing when it can (or its module has no check)."""
    info = MODULES.get(to_product.module)
    if info is None or info.change_check is None:
        return
    reason = info.change_check(customer_id=service.customer_id, to_product=to_product)
    if reason:
        raise PlanNotAvailable(reason)
