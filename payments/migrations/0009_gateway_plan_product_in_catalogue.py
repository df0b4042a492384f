"""State only: `GatewayPlan.product` points at `catalogue.Product` (the same table, renamed
by catalogue 0001, so the database keeps its foreign key)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0001_initial"),
        ("payments", "0008_admin_list_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="gatewayplan",
                    name="product",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="catalogue.product",
                    ),
                ),
            ]
        ),
    ]
