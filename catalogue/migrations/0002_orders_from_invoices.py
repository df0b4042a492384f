"""Orders and coupon redemptions move here from `invoices` with their rows (issue 13).

1. State only: the two models are created here as they stand in invoices (same tables, same
   index); nothing happens in the database.
2. The tables are renamed `catalogue_order` / `catalogue_couponredemption` (AlterModelTable),
   keeping every row, id and the foreign keys pointing at them (invoices, services).
3. The staff list's index takes the catalogue's name.
4. The content types change app label, so permissions already granted to staff groups (now
   `catalogue.change_order`, ...) and admin history survive.
Provisioning 0012 repoints `Service.order` in state and invoices 0013 repoints
`Invoice.order` and forgets the models.
"""

import django.db.models.deletion
import django.utils.timezone
from billing_portal.common.model_moves import content_types_moved
from django.db import migrations, models

MOVED = ["order", "couponredemption"]


def _id():
    return models.BigAutoField(
        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
    )


STATE = [
    migrations.CreateModel(
        name="Order",
        fields=[
            ("id", _id()),
            (
                "status",
                models.CharField(
                    choices=[
                        ("pending", "Awaiting payment"),
                        ("completed", "Completed"),
                        ("cancelled", "Cancelled"),
                    ],
                    db_index=True,
                    default="pending",
                    max_length=16,
                ),
            ),
            ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ("cancelled_at", models.DateTimeField(blank=True, null=True)),
            (
                "coupon",
                models.ForeignKey(
                    blank=True,
                    null=True,
                    on_delete=django.db.models.deletion.PROTECT,
                    to="catalogue.coupon",
                ),
            ),
            (
                "customer",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="orders",
                    to="accounts.customer",
                ),
            ),
        ],
        options={
            "ordering": ["-created_at", "-id"],
            "db_table": "invoices_order",
            "indexes": [
                models.Index(fields=["-created_at", "-id"], name="invoices_order_created_idx")
            ],
        },
    ),
    migrations.CreateModel(
        name="CouponRedemption",
        fields=[
            ("id", _id()),
            ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            (
                "coupon",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="redemptions",
                    to="catalogue.coupon",
                ),
            ),
            (
                "customer",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="coupon_redemptions",
                    to="accounts.customer",
                ),
            ),
            (
                "order",
                models.OneToOneField(
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="coupon_redemption",
                    to="catalogue.order",
                ),
            ),
        ],
        options={"db_table": "invoices_couponredemption"},
    ),
]



class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("catalogue", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("invoices", "0012_merge_billingrun_and_catalogue"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=STATE),
        *(migrations.AlterModelTable(name=model, table=None) for model in MOVED),
        migrations.RenameIndex(
            model_name="order",
            new_name="catalogue_order_created_idx",
            old_name="invoices_order_created_idx",
        ),
        content_types_moved(source="invoices", target="catalogue", models=MOVED),
    ]
