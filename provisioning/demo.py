"""Demo provisioning for `manage.py seed_demo`: a sandbox server that needs no external
panel, and every demo product placed on it, each imitating the module a real provider would
use (`stands_in_for`), so a new user sees a paid service of any kind go from "being set up"
to active. Idempotent (looked up by name and slug)."""

from __future__ import annotations

from django.conf import settings

from catalogue.models import Product
from provisioning.models import ProductBackupPolicy, ProductPlacement, Server, ServerGroup

# product slug -> the sandbox's module settings for it
SANDBOX_PRODUCTS = {
    "minecraft-4gb": {"stands_in_for": "pterodactyl", "plan": "Minecraft 4 GB"},
    "vps-small": {"stands_in_for": "virtfusion", "plan": "vps-small"},
    "hosting-directadmin": {"stands_in_for": "directadmin", "plan": "starter"},
    "hosting-nextpanel": {"stands_in_for": "nextpanel", "plan": "plus"},
    "wordpress-basic": {"stands_in_for": "wordpress", "plan": "basic"},
    # Its tickets' priority and response target (the support desk reads them).
    "support-priority": {
        "stands_in_for": "support",
        "plan": "priority",
        "priority": "high",
        "response_hours": 2,
    },
}


def sandbox_seed() -> None:
    group, _ = ServerGroup.objects.get_or_create(name="Sandbox")
    Server.objects.get_or_create(
        name="sandbox-1",
        defaults={
            "group": group,
            "module": "sandbox",
            "base_url": settings.PORTAL_BASE_URL,
            "capacity_accounts": 1000,
            "location": "Demo",
        },
    )
    for product in Product.objects.filter(slug__in=SANDBOX_PRODUCTS, module__in=("", "sandbox")):
        wanted = SANDBOX_PRODUCTS[product.slug]
        if product.module == "sandbox" and product.module_settings.get("stands_in_for"):
            continue  # set up already (perhaps changed by staff since)
        product.module = "sandbox"
        product.module_settings = {**wanted, **product.module_settings}
        product.save(update_fields=["module", "module_settings"])
        ProductPlacement.objects.update_or_create(product=product, defaults={"server_group": group})
    backup_policies_seed()


# product slug -> its automatic backups (provisioning.services.backups)
BACKUP_POLICIES = {
    "wordpress-basic": {"interval": ProductBackupPolicy.Interval.DAILY},
    "vps-small": {"interval": ProductBackupPolicy.Interval.WEEKLY, "keep": 2},
}


def backup_policies_seed() -> None:
    """Automatic backups for the demo site and VPS products (left alone once they exist)."""
    for product in Product.objects.filter(slug__in=BACKUP_POLICIES):
        ProductBackupPolicy.objects.get_or_create(
            product=product, defaults=BACKUP_POLICIES[product.slug]
        )


DNS_SERVER_GROUP = "DNS zones"
DNS_SERVER = "dns-zones"


def dns_server_seed() -> None:
    """The "server" of the `dns` module (the portal's own zone service: nothing is called
    at its address) and every DNS plan product placed on it."""
    group, _ = ServerGroup.objects.get_or_create(name=DNS_SERVER_GROUP)
    Server.objects.get_or_create(
        name=DNS_SERVER,
        defaults={
            "group": group,
            "module": "dns",
            "base_url": settings.PORTAL_BASE_URL,
            "capacity_accounts": 1_000_000,
            "location": "Portal",
        },
    )
    for product in Product.objects.filter(module="dns", placement__isnull=True):
        ProductPlacement.objects.create(product=product, server_group=group)
