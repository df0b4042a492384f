"""ServiceChange moves here from `provisioning` with its rows (issue 13): a plan change joins a
service to the invoice paying for it, so it belongs to the flows that span apps.

1. State only: the model is created here as it stands in provisioning (same table, same
   constraint); nothing happens in the database.
2. The table is renamed `billing_servicechange` (AlterModelTable), keeping every row and id.
3. The one-open-change-per-service constraint takes billing's name.
4. The content type changes app label, so any permission granted on it survives.
Provisioning 0013 forgets the model.
"""

import django.db.models.deletion
import django.utils.timezone
import djmoney.models.fields
from billing_portal.common.model_moves import content_types_moved
from django.db import migrations, models

import billing_portal.common.money


def _one_open(name):
    return models.UniqueConstraint(
        condition=models.Q(("status", "awaiting_payment")), fields=("service",), name=name
    )


def _money(**kwargs):
    return djmoney.models.fields.MoneyField(
        currency_field_name="currency", decimal_places=2, max_digits=14, **kwargs
    )



STATE = [
    migrations.CreateModel(
        name="ServiceChange",
        fields=[
            (
                "id",
                models.BigAutoField(
                    auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                ),
            ),
            (
                "currency",
                models.CharField(
                    max_length=3,
                    validators=[billing_portal.common.money.validate_currency_code],
                ),
            ),
            ("new_recurring_amount", _money()),
            ("option_quantities", models.JSONField(blank=True, default=dict)),
            ("prorated_difference", _money(help_text="Positive: to pay; negative: credited.")),
            (
                "status",
                models.CharField(
                    choices=[
                        ("awaiting_payment", "Awaiting payment"),
                        ("applied", "Applied"),
                        ("expired", "Expired"),
                    ],
                    max_length=20,
                ),
            ),
            ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ("applied_at", models.DateTimeField(blank=True, null=True)),
            (
                "from_product",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="+",
                    to="catalogue.product",
                ),
            ),
            (
                "invoice",
                models.OneToOneField(
                    blank=True,
                    null=True,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="service_change",
                    to="invoices.invoice",
                ),
            ),
            (
                "service",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="changes",
                    to="provisioning.service",
                ),
            ),
            (
                "to_product",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="+",
                    to="catalogue.product",
                ),
            ),
        ],
        options={
            "ordering": ["-created_at", "-id"],
            "db_table": "provisioning_servicechange",
            "constraints": [_one_open("provisioning_servicechange_one_open_per_service")],
        },
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_dns_plans_become_products"),
        ("catalogue", "0002_orders_from_invoices"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("invoices", "0013_orders_moved_to_catalogue"),
        ("provisioning", "0012_order_in_catalogue"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=STATE),
        migrations.AlterModelTable(name="servicechange", table=None),
        migrations.RemoveConstraint(
            model_name="servicechange", name="provisioning_servicechange_one_open_per_service"
        ),
        migrations.AddConstraint(
            model_name="servicechange",
            constraint=_one_open("billing_servicechange_one_open_per_service"),
        ),
        content_types_moved(source="provisioning", target="billing", models=["servicechange"]),
    ]
