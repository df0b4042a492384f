"""The DNS plans sold at launch, priced in the site's default currency; staff edit them."""

from decimal import Decimal

from django.conf import settings
from django.db import migrations

PLANS = [
    ("Basic", "Up to 3 domains, 50 records each.", "5", 3, 50),
    ("Pro", "Up to 10 domains, 200 records each.", "15", 10, 200),
    ("Enterprise", "Up to 50 domains, 1,000 records each.", "50", 50, 1000),
]


def seed(apps, schema_editor):
    DnsPlan = apps.get_model("dns", "DnsPlan")
    for order, (name, description, price, domains, records) in enumerate(PLANS):
        DnsPlan.objects.get_or_create(
            name=name,
            defaults={"description": description, "currency": settings.DEFAULT_CURRENCY,
                      "price": Decimal(price), "domain_limit": domains,
                      "record_limit": records, "sort_order": order},
        )


class Migration(migrations.Migration):
    dependencies = [("dns", "0001_dns_plans_zones_records")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
