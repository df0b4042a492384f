"""State only: an invoice's order is the catalogue's, and invoices forgets the order models.
Their tables (renamed `catalogue_*` by catalogue 0002) and rows stay: nothing is dropped.
Runs after every other app has repointed its foreign keys (provisioning 0012)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0002_orders_from_invoices"),
        ("invoices", "0012_merge_billingrun_and_catalogue"),
        ("provisioning", "0012_order_in_catalogue"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="invoice",
                    name="order",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="invoices",
                        to="catalogue.order",
                    ),
                ),
                migrations.DeleteModel(name="CouponRedemption"),
                migrations.DeleteModel(name="Order"),
            ]
        ),
    ]
