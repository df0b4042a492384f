"""A small demo catalogue for `manage.py seed_demo`: looked up by slug, so it is idempotent."""

from __future__ import annotations

from decimal import Decimal

from djmoney.money import Money

from invoices.models import (
    ConfigurableOption,
    ConfigurableOptionPrice,
    Product,
    ProductGroup,
    ProductPrice,
)

CURRENCIES = ("USD", "EUR", "GBP")
# slug: (group slug, group name, name, kind, monthly price, setup fee, requires hostname)
PRODUCTS = {
    "minecraft-4gb": (
        "game-servers", "Game servers", "Minecraft 4 GB", "game_server", "12.00", "0", True,
    ),
    "vps-small": (
        "vps", "Virtual servers", "VPS Small (2 vCPU, 4 GB)", "vps", "9.00", "5.00", True,
    ),
    "dns-basic": ("dns", "DNS", "DNS Basic (5 zones)", "dns_plan", "2.00", "0", False),
}  # fmt: skip
# cycle: (months, discount factor)
CYCLES = {"monthly": (1, "1"), "quarterly": (3, "0.97"), "annual": (12, "0.9")}


def catalogue_seed() -> None:
    for slug, (group_slug, group_name, name, kind, monthly, setup, hostname) in PRODUCTS.items():
        group, _ = ProductGroup.objects.get_or_create(
            slug=group_slug, defaults={"name": group_name}
        )
        product, created = Product.objects.get_or_create(
            slug=slug,
            defaults={"group": group, "name": name, "kind": kind, "requires_hostname": hostname},
        )
        if not created:
            continue
        for currency in CURRENCIES:
            for cycle, (months, factor) in CYCLES.items():
                amount = (Decimal(monthly) * months * Decimal(factor)).quantize(Decimal("0.01"))
                ProductPrice.objects.create(
                    product=product,
                    cycle=cycle,
                    currency=currency,
                    price=Money(amount, currency),
                    setup_fee=Money(Decimal(setup), currency),
                )
        if kind == "game_server":
            _memory_option(product)


def _memory_option(product: Product) -> None:
    option = ConfigurableOption.objects.create(
        product=product, name="Extra memory", unit_label="GB", max_quantity=16
    )
    for currency in CURRENCIES:
        for cycle, (months, _factor) in CYCLES.items():
            ConfigurableOptionPrice.objects.create(
                option=option,
                cycle=cycle,
                currency=currency,
                unit_price=Money(Decimal("2.00") * months, currency),
                setup_fee=Money(Decimal("0"), currency),
            )
