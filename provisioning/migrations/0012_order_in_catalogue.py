"""State only: a service's order is the catalogue's (the same table, renamed by catalogue
0002, so the database keeps its foreign key)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0002_orders_from_invoices"),
        ("provisioning", "0011_service_ends_on"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="service",
                    name="order",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="services",
                        to="catalogue.order",
                    ),
                ),
            ]
        ),
    ]
