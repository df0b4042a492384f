"""The launch DNS plans as catalogue products of the `dns` provisioning module, for
`seed_demo` and for tests whose database was flushed (the migrations seed them once, with
their own frozen copy: dns 0002 and billing 0002). Their group is hidden: they are sold on
the DNS page, not in the catalogue. Where their services are placed is provisioning's
(provisioning.demo.dns_server_seed). Idempotent (looked up by slug)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from djmoney.money import Money

from catalogue.models import BillingCycle, Product, ProductGroup, ProductPrice

GROUP = ("dns-plans", "DNS")
# name, description, monthly price, domains, records per zone
PLANS = [
    ("Basic", "Up to 3 domains, 50 records each.", "5", 3, 50),
    ("Pro", "Up to 10 domains, 200 records each.", "15", 10, 200),
    ("Enterprise", "Up to 50 domains, 1,000 records each.", "50", 50, 1000),
]


def dns_plan_slug(name: str) -> str:
    return f"dns-plan-{name.lower()}"


def dns_plans_seed() -> None:
    group, _ = ProductGroup.objects.get_or_create(
        slug=GROUP[0], defaults={"name": GROUP[1], "is_visible": False}
    )
    currency = settings.DEFAULT_CURRENCY
    for order, (name, description, price, domains, records) in enumerate(PLANS):
        product, created = Product.objects.get_or_create(
            slug=dns_plan_slug(name),
            defaults={
                "group": group,
                "name": name,
                "kind": Product.Kind.DNS_PLAN,
                "description": description,
                "module": "dns",
                "module_settings": {
                    "plan": name,
                    "domain_limit": domains,
                    "record_limit": records,
                },
                "sort_order": order,
            },
        )
        if created:
            ProductPrice.objects.create(
                product=product,
                cycle=BillingCycle.MONTHLY,
                currency=currency,
                price=Money(Decimal(price), currency),
                setup_fee=Money(Decimal("0"), currency),
            )
