"""Demo provisioning for `manage.py seed_demo`: a sandbox server that needs no external
panel, and the demo game server and VPS products placed on it, so a new user sees a paid
service go from "being set up" to active. Idempotent (looked up by name and slug)."""

from __future__ import annotations

from invoices.models import Product
from provisioning.models import Server, ServerGroup

SANDBOX_PRODUCTS = ("minecraft-4gb", "vps-small")


def sandbox_seed() -> None:
    group, _ = ServerGroup.objects.get_or_create(name="Sandbox")
    Server.objects.get_or_create(
        name="sandbox-1",
        defaults={"group": group, "module": "sandbox", "base_url": "https://sandbox.invalid",
                  "capacity_accounts": 1000, "location": "Demo"},
    )  # fmt: skip
    Product.objects.filter(slug__in=SANDBOX_PRODUCTS, module="").update(
        module="sandbox", server_group=group
    )
