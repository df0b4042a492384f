"""The demo catalogue for `manage.py seed_demo`: one product of every kind the portal sells
(DNS plans are products too, seeded by dnszones.demo in a hidden group: they are sold on
the DNS page). Looked up by slug, so it is idempotent; a
product an earlier run made without a description gets one."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import ProtectedError
from djmoney.money import Money

from catalogue.models import (
    ClientGroup,
    ClientGroupDiscount,
    ConfigurableOption,
    ConfigurableOptionPrice,
    Product,
    ProductGroup,
    ProductPrice,
)

CURRENCIES = ("USD", "EUR", "GBP")
# cycle: (months, discount factor)
CYCLES = {"monthly": (1, "1"), "quarterly": (3, "0.97"), "annual": (12, "0.9")}
# The former "DNS Basic" demo product, which bought nothing: the DNS plans (dnszones.demo)
# took its place.
RETIRED = ("dns-basic",)


@dataclass(frozen=True)
class DemoProduct:
    group: tuple[str, str]  # slug, name
    name: str
    kind: str
    monthly: str
    setup: str
    description: str
    hostname: bool = False
    domain: bool = False


PRODUCTS = {
    "minecraft-4gb": DemoProduct(
        ("game-servers", "Game servers"),
        "Minecraft 4 GB",
        "game_server",
        "12.00",
        "0",
        "A Minecraft Java server with 4 GB of memory, 2 CPU cores and 20 GB of SSD, managed "
        "in a Pterodactyl-style game panel. Extra memory can be added per GB.",
        hostname=True,
    ),
    "vps-small": DemoProduct(
        ("vps", "Virtual servers"),
        "VPS Small (2 vCPU, 4 GB)",
        "vps",
        "9.00",
        "5.00",
        "A KVM virtual server with 2 vCPUs, 4 GB of memory, 60 GB of NVMe and one IPv4 "
        "address, with full root access through a VirtFusion-style panel.",
        hostname=True,
    ),
    "hosting-directadmin": DemoProduct(
        ("web-hosting", "Web hosting"),
        "Web Hosting Starter (DirectAdmin)",
        "web_hosting",
        "4.00",
        "0",
        "Shared hosting for one website: 10 GB of SSD, 10 mailboxes, free "
        "SSL certificates and daily backups, managed in DirectAdmin.",
        domain=True,
    ),
    "hosting-nextpanel": DemoProduct(
        ("web-hosting", "Web hosting"),
        "Web Hosting Plus (NextPanel)",
        "web_hosting",
        "7.00",
        "0",
        "Hosting for up to 5 websites on our multi-server NextPanel platform: "
        "25 GB of SSD, unlimited mailboxes, databases and free SSL.",
        domain=True,
    ),
    "wordpress-basic": DemoProduct(
        ("wordpress", "WordPress sites"),
        "Managed WordPress Basic",
        "wordpress_site",
        "10.00",
        "0",
        "A managed WordPress site: 2 GB of memory, 10 GB of disk, automatic "
        "updates, daily backups and a staging copy, set up with its admin login.",
        domain=True,
    ),
    "support-priority": DemoProduct(
        ("support", "Support"),
        "Priority Support",
        "support",
        "25.00",
        "0",
        "Priority help from our engineers for all your services: answers within 2 hours, "
        "around the clock, with a personal support key for phone and chat.",
    ),
}


def catalogue_seed() -> None:
    for retired in Product.objects.filter(slug__in=RETIRED):
        try:
            retired.delete()
        except ProtectedError:  # kept, hidden: something (a service) still refers to it
            Product.objects.filter(pk=retired.pk).update(is_visible=False)
    ProductGroup.objects.filter(slug="dns", products__isnull=True).delete()
    for slug, demo in PRODUCTS.items():
        group, _ = ProductGroup.objects.get_or_create(
            slug=demo.group[0], defaults={"name": demo.group[1]}
        )
        product, created = Product.objects.get_or_create(
            slug=slug,
            defaults={
                "group": group,
                "name": demo.name,
                "kind": demo.kind,
                "description": demo.description,
                "requires_hostname": demo.hostname,
                "requires_domain": demo.domain,
            },
        )
        if not created:
            Product.objects.filter(pk=product.pk, description="").update(
                description=demo.description
            )
            continue
        _prices(product, demo)
        if demo.kind == "game_server":
            _memory_option(product)
    _client_groups()


def _client_groups() -> None:
    """A reseller tier with 20% off everything (setup fees paid in full), with no members:
    staff put a customer in it from admin to try it."""
    group, created = ClientGroup.objects.get_or_create(
        name="Reseller",
        defaults={"colour": "#7b3fbf", "description": "Resellers: 20% off every product."},
    )
    if created:
        ClientGroupDiscount.objects.create(group=group, percent=Decimal("20"))


def _prices(product: Product, demo: DemoProduct) -> None:
    for currency in CURRENCIES:
        for cycle, (months, factor) in CYCLES.items():
            amount = (Decimal(demo.monthly) * months * Decimal(factor)).quantize(Decimal("0.01"))
            ProductPrice.objects.create(
                product=product,
                cycle=cycle,
                currency=currency,
                price=Money(amount, currency),
                setup_fee=Money(Decimal(demo.setup), currency),
            )


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
