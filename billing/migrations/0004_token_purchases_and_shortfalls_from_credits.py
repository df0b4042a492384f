"""Token purchases and refund shortfalls move here from credits (issue 13), with their rows.

1. State only: both models are created here as they stand in credits (same tables, same
   constraint names); nothing happens in the database.
2. The tables are renamed to `billing_*` (AlterModelTable), keeping every row, id and
   foreign key (a shortfall's token purchase, the purchase's invoice).
3. The constraints take billing's names.
4. The content types change app label, so the permissions already granted to staff groups
   (now `billing.manage_tokens`, `billing.resolve_refundshortfall`, ...) and the admin
   history survive.
credits 0011 then forgets the models.
"""

import django.db.models.deletion
import django.utils.timezone
import djmoney.models.fields
from django.conf import settings
from billing_portal.common.model_moves import content_types_moved
from django.db import migrations, models

import billing.models.purchases
import billing_portal.common.money

MOVED = ["tokenpurchase", "refundshortfall"]


def _currency():
    return models.CharField(
        max_length=3, validators=[billing_portal.common.money.validate_currency_code]
    )


def _money(help_text):
    return djmoney.models.fields.MoneyField(
        currency_field_name="currency", decimal_places=2, help_text=help_text, max_digits=14
    )


def _positive(name):
    return models.CheckConstraint(condition=models.Q(("tokens__gt", 0)), name=name)


def _has_invoice(name):
    return models.CheckConstraint(
        condition=models.Q(("source", "staff"), ("invoice__isnull", False), _connector="OR"),
        name=name,
    )


def _virtfusion_id_unique(name):
    return models.UniqueConstraint(
        condition=models.Q(("virtfusion_credit_id__isnull", False)),
        fields=("virtfusion_credit_id",),
        name=name,
    )


def _amount_nonnegative(name):
    return models.CheckConstraint(condition=models.Q(("amount__gte", 0)), name=name)


def _resolved_has_date(name):
    return models.CheckConstraint(
        condition=models.Q(("status", "open"), ("resolved_at__isnull", False), _connector="OR"),
        name=name,
    )


# (model, name in credits, name in billing, how it is made)
RENAMED_CONSTRAINTS = [
    ("tokenpurchase", "credits_tokenpurchase_positive", "billing_tokenpurchase_positive", _positive),
    (
        "tokenpurchase",
        "credits_tokenpurchase_purchase_has_invoice",
        "billing_tokenpurchase_purchase_has_invoice",
        _has_invoice,
    ),
    (
        "tokenpurchase",
        "credits_tokenpurchase_virtfusion_id_unique",
        "billing_tokenpurchase_virtfusion_id_unique",
        _virtfusion_id_unique,
    ),
    (
        "refundshortfall",
        "credits_refundshortfall_amount_nonnegative",
        "billing_refundshortfall_amount_nonnegative",
        _amount_nonnegative,
    ),
    (
        "refundshortfall",
        "credits_refundshortfall_resolved_has_date",
        "billing_refundshortfall_resolved_has_date",
        _resolved_has_date,
    ),
]


def _old(model):
    return [make(old) for name, old, _new, make in RENAMED_CONSTRAINTS if name == model]


TOKEN_STATUSES = [
    ("awaiting_payment", "Awaiting payment"),
    ("pending", "Pending"),
    ("sending", "Sending"),
    ("delivered", "Added"),
    ("uncertain", "Needs checking"),
    ("failed", "Failed"),
    ("converted", "Converted to account credit"),
    ("refunded", "Refunded"),
    ("cancelled", "Cancelled"),
    ("removal_pending", "Being taken back"),
    ("removing", "Being taken back"),
    ("removed", "Taken back (refunded)"),
]

STATE = [
    migrations.CreateModel(
        name="TokenPurchase",
        fields=[
            (
                "id",
                models.BigAutoField(
                    auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                ),
            ),
            ("attempts", models.PositiveIntegerField(default=0)),
            ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
            ("last_error", models.TextField(blank=True)),
            ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ("started_at", models.DateTimeField(blank=True, null=True)),
            ("finished_at", models.DateTimeField(blank=True, null=True)),
            (
                "source",
                models.CharField(
                    choices=[("purchase", "Purchase"), ("staff", "Added by staff")],
                    max_length=10,
                ),
            ),
            (
                "status",
                models.CharField(choices=TOKEN_STATUSES, db_index=True, max_length=20),
            ),
            (
                "idempotency_key",
                models.CharField(
                    default=billing.models.purchases._token_purchase_key,
                    max_length=200,
                    unique=True,
                ),
            ),
            ("tokens", models.DecimalField(decimal_places=2, max_digits=14)),
            (
                "rate",
                models.DecimalField(
                    decimal_places=4, help_text="Tokens per unit of the currency.", max_digits=12
                ),
            ),
            ("currency", _currency()),
            ("amount", _money("Price of the tokens before tax (zero for staff grants).")),
            ("virtfusion_credit_id", models.PositiveBigIntegerField(blank=True, null=True)),
            ("reason", models.TextField(blank=True)),
            ("resolution", models.TextField(blank=True)),
            ("delivered_at", models.DateTimeField(blank=True, null=True)),
            ("updated_at", models.DateTimeField(auto_now=True)),
            (
                "customer",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="token_purchases",
                    to="accounts.customer",
                ),
            ),
            (
                "invoice",
                models.OneToOneField(
                    blank=True,
                    null=True,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="token_purchase",
                    to="invoices.invoice",
                ),
            ),
            (
                "staff_user",
                models.ForeignKey(
                    blank=True,
                    null=True,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="+",
                    to=settings.AUTH_USER_MODEL,
                ),
            ),
        ],
        options={
            "ordering": ["-created_at", "-id"],
            "permissions": [("manage_tokens", "Can add, resolve and cancel VPS tokens")],
            "db_table": "credits_tokenpurchase",
            "constraints": _old("tokenpurchase"),
        },
    ),
    migrations.CreateModel(
        name="RefundShortfall",
        fields=[
            (
                "id",
                models.BigAutoField(
                    auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                ),
            ),
            ("payment_reference", models.CharField(blank=True, max_length=255)),
            (
                "kind",
                models.CharField(
                    choices=[("credit", "Account credit already spent"), ("tokens", "VPS tokens")],
                    max_length=10,
                ),
            ),
            (
                "status",
                models.CharField(
                    choices=[("open", "Open"), ("resolved", "Resolved")],
                    db_index=True,
                    default="open",
                    max_length=10,
                ),
            ),
            ("currency", _currency()),
            ("amount", _money("Value of what could not be taken back.")),
            ("tokens", models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True)),
            (
                "description",
                models.TextField(help_text="What happened and what staff should check."),
            ),
            ("resolved_at", models.DateTimeField(blank=True, null=True)),
            ("resolution", models.TextField(blank=True)),
            ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            (
                "customer",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="refund_shortfalls",
                    to="accounts.customer",
                ),
            ),
            (
                "invoice",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="refund_shortfalls",
                    to="invoices.invoice",
                ),
            ),
            (
                "resolved_by",
                models.ForeignKey(
                    blank=True,
                    null=True,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="+",
                    to=settings.AUTH_USER_MODEL,
                ),
            ),
            (
                "token_purchase",
                models.ForeignKey(
                    blank=True,
                    null=True,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="shortfalls",
                    to="billing.tokenpurchase",
                ),
            ),
        ],
        options={
            "ordering": ["-created_at", "-id"],
            "permissions": [("resolve_refundshortfall", "Can resolve refund shortfalls")],
            "db_table": "credits_refundshortfall",
            "constraints": _old("refundshortfall"),
        },
    ),
]



class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("accounts", "0012_auditevent_to_common"),
        ("billing", "0003_service_change_from_provisioning"),
        ("credits", "0010_token_purchase_key_unique"),
        ("invoices", "0012_merge_billingrun_and_catalogue"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=STATE),
        *(migrations.AlterModelTable(name=model, table=None) for model in MOVED),
        *(
            operation
            for model, old, new, make in RENAMED_CONSTRAINTS
            for operation in (
                migrations.RemoveConstraint(model_name=model, name=old),
                migrations.AddConstraint(model_name=model, constraint=make(new)),
            )
        ),
        content_types_moved(source="credits", target="billing", models=MOVED),
    ]
