"""`Product.server_group` is dropped after provisioning 0009 copied it into
`provisioning.ProductPlacement` (reversing re-adds the column, then 0009 copies it back)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0009_admin_list_indexes"),
        ("provisioning", "0009_product_placement"),
    ]

    operations = [
        migrations.RemoveField(model_name="product", name="server_group"),
    ]
