"""Where a product's services are placed becomes provisioning's: `ProductPlacement` rows copied
from `invoices.Product.server_group` (removed in invoices 0010), so the catalogue no longer
points up at server groups."""

import django.db.models.deletion
from django.db import migrations, models


def placements_from_products(apps, schema_editor):
    Product = apps.get_model("invoices", "Product")
    ProductPlacement = apps.get_model("provisioning", "ProductPlacement")
    ProductPlacement.objects.bulk_create(
        ProductPlacement(product_id=product_id, server_group_id=group_id)
        for product_id, group_id in Product.objects.filter(server_group__isnull=False)
        .order_by("pk")
        .values_list("pk", "server_group_id")
    )


def products_from_placements(apps, schema_editor):
    Product = apps.get_model("invoices", "Product")
    ProductPlacement = apps.get_model("provisioning", "ProductPlacement")
    for placement in ProductPlacement.objects.all():
        Product.objects.filter(pk=placement.product_id).update(
            server_group_id=placement.server_group_id
        )


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0009_admin_list_indexes"),
        ("provisioning", "0008_admin_list_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="ProductPlacement",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "product",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="placement",
                        to="invoices.product",
                    ),
                ),
                (
                    "server_group",
                    models.ForeignKey(
                        help_text="Where new services of this product are placed (with a module).",
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="placements",
                        to="provisioning.servergroup",
                    ),
                ),
            ],
        ),
        migrations.RunPython(placements_from_products, products_from_placements),
    ]
