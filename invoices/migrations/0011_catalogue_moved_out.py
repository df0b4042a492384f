"""State only: orders and coupon redemptions point at `catalogue.Coupon`, and invoices forgets
the catalogue models. Their tables (renamed `catalogue_*` by catalogue 0001) and rows stay:
nothing is dropped. Runs after every other app has repointed its foreign keys."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0001_initial"),
        ("invoices", "0010_product_server_group_to_provisioning"),
        ("payments", "0009_gateway_plan_product_in_catalogue"),
        ("provisioning", "0010_catalogue_foreign_keys"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="couponredemption",
                    name="coupon",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="redemptions",
                        to="catalogue.coupon",
                    ),
                ),
                migrations.AlterField(
                    model_name="order",
                    name="coupon",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        to="catalogue.coupon",
                    ),
                ),
                migrations.DeleteModel(name="TaxRate"),
                migrations.DeleteModel(name="ConfigurableOptionPrice"),
                migrations.DeleteModel(name="ProductPrice"),
                migrations.DeleteModel(name="Coupon"),
                migrations.DeleteModel(name="ConfigurableOption"),
                migrations.DeleteModel(name="Product"),
                migrations.DeleteModel(name="ProductGroup"),
            ]
        ),
    ]
