"""The launch DNS plans, for `seed_demo` and for tests whose database was flushed (the data
migration 0002 seeds them once, with its own frozen copy)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from dnszones.models import DnsPlan

PLANS = [
    ("Basic", "Up to 3 domains, 50 records each.", "5", 3, 50),
    ("Pro", "Up to 10 domains, 200 records each.", "15", 10, 200),
    ("Enterprise", "Up to 50 domains, 1,000 records each.", "50", 50, 1000),
]


def dns_plans_seed() -> None:
    for order, (name, description, price, domains, records) in enumerate(PLANS):
        DnsPlan.objects.get_or_create(
            name=name,
            defaults={
                "description": description,
                "currency": settings.DEFAULT_CURRENCY,
                "price": Decimal(price),
                "domain_limit": domains,
                "record_limit": records,
                "sort_order": order,
            },
        )
