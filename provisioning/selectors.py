"""Service reads for views and the API, always scoped by the caller."""

from __future__ import annotations

from django.db.models import ExpressionWrapper, F, FloatField, QuerySet

from accounts.models import Customer
from invoices.models import Product
from provisioning.models import Server, ServerGroup, Service, SitePlan


def service_list_for_customer(*, customer: Customer) -> QuerySet[Service]:
    return (
        Service.objects.filter(customer=customer)
        .select_related("product")
        .prefetch_related("gateway_subscriptions")
    )


def service_get_for_customer(*, customer: Customer, service_id: int) -> Service:
    """The customer's own service (DoesNotExist for anyone else's)."""
    return Service.objects.select_related("product", "server").get(pk=service_id, customer=customer)


def servers_with_room(*, product: Product) -> QuerySet[Server]:
    """Active, online servers of the product's group and module with a free account slot,
    best first by the group's placement strategy."""
    servers = Server.objects.filter(
        group=product.server_group, module=product.module, is_active=True, is_online=True,
        current_accounts__lt=F("capacity_accounts"),
    )  # fmt: skip
    if product.server_group.strategy == ServerGroup.Strategy.FILL_FIRST:
        return servers.order_by("-current_accounts", "pk")
    share = ExpressionWrapper(
        F("current_accounts") * 1.0 / F("capacity_accounts"), output_field=FloatField()
    )
    return servers.annotate(share=share).order_by("share", "pk")


def product_has_room(*, product: Product) -> bool:
    """Whether a new service of `product` could be placed now (products without a module
    always can)."""
    if not product.module or product.server_group_id is None:
        return True
    return servers_with_room(product=product).exists()


def site_plan_for(*, service: Service) -> SitePlan | None:
    """The WordPress plan (resources and quotas) a site service is on, if any."""
    if service.product.module != "wordpress":
        return None
    return SitePlan.objects.filter(name=service.product.module_settings.get("plan")).first()
