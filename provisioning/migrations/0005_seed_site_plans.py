"""The managed WordPress plans as sold at launch; staff change them in the admin."""

from django.db import migrations

PLANS = [
    ("basic", 2, 20, 2, 3),
    ("standard", 4, 40, 3, 5),
    ("premium", 8, 80, 5, 10),
]


def seed(apps, schema_editor):
    SitePlan = apps.get_model("provisioning", "SitePlan")
    for name, memory, disk, backups, domains in PLANS:
        SitePlan.objects.get_or_create(
            name=name,
            defaults={"memory_gb": memory, "disk_gb": disk, "backups": backups,
                      "domains": domains},
        )


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0004_site_plans")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
