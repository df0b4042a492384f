"""State only: services, their options, plan changes and placements point at the catalogue's
models (the same tables, renamed by catalogue 0001, so the database keeps its foreign keys)."""

import django.db.models.deletion
from django.db import migrations, models


def _to(model, **kwargs):
    return models.ForeignKey(
        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=model, **kwargs
    )


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0001_initial"),
        ("provisioning", "0009_product_placement"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="productplacement",
                    name="product",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="placement",
                        to="catalogue.product",
                    ),
                ),
                migrations.AlterField(
                    model_name="service",
                    name="product",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="services",
                        to="catalogue.product",
                    ),
                ),
                migrations.AlterField(
                    model_name="service",
                    name="recurring_coupon",
                    field=_to(
                        "catalogue.coupon",
                        blank=True,
                        null=True,
                        help_text="A recurring coupon applied to every renewal.",
                    ),
                ),
                migrations.AlterField(
                    model_name="servicechange",
                    name="from_product",
                    field=_to("catalogue.product"),
                ),
                migrations.AlterField(
                    model_name="servicechange",
                    name="to_product",
                    field=_to("catalogue.product"),
                ),
                migrations.AlterField(
                    model_name="serviceoption",
                    name="option",
                    field=_to("catalogue.configurableoption"),
                ),
            ]
        ),
    ]
