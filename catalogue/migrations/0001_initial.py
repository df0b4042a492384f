"""The catalogue moves out of `invoices` with its rows.

1. State only: the seven models are created here as they stand in invoices (same tables,
   same constraint names); nothing happens in the database.
2. The tables are renamed to `catalogue_*` (AlterModelTable; the coupon-product M2M table
   follows), keeping every row, id and foreign key pointing at them.
3. The constraints take the catalogue's names.
4. The content types of the moved models change app label, so permissions already granted
   to staff groups (now `catalogue.change_product`, ...) survive.
Other apps repoint their foreign keys in state (provisioning 0010, payments 0009) and
invoices 0011 forgets the models.
"""

from decimal import Decimal

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
import django_countries.fields
import djmoney.models.fields
from billing_portal.common.model_moves import content_types_moved
from django.db import migrations, models

import billing_portal.common.money

MOVED = [
    "productgroup",
    "product",
    "productprice",
    "configurableoption",
    "configurableoptionprice",
    "coupon",
    "taxrate",
]

CYCLES = [
    ("monthly", "Monthly"),
    ("quarterly", "Quarterly"),
    ("semiannual", "Semi-annually"),
    ("annual", "Annually"),
    ("biennial", "Biennially"),
    ("one_time", "One time"),
]


def _id():
    return models.BigAutoField(
        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
    )


def _currency(**kwargs):
    return models.CharField(
        max_length=3, validators=[billing_portal.common.money.validate_currency_code], **kwargs
    )


def _money(**kwargs):
    return djmoney.models.fields.MoneyField(
        currency_field_name="currency", decimal_places=2, max_digits=14, **kwargs
    )


def _unique_price(field, name):
    return models.UniqueConstraint(fields=(field, "cycle", "currency"), name=name)


def _nonnegative(first, second, name):
    return models.CheckConstraint(
        condition=models.Q((f"{first}__gte", 0), (f"{second}__gte", 0)), name=name
    )


def _option_range(name):
    return models.CheckConstraint(
        condition=models.Q(("max_quantity__gte", models.F("min_quantity"))), name=name
    )


def _coupon_value(name):
    return models.CheckConstraint(
        condition=models.Q(
            models.Q(("amount__isnull", True), ("kind", "percent"), ("percent__isnull", False)),
            models.Q(
                ("amount__gt", 0),
                ("kind", "fixed"),
                ("percent__isnull", True),
                models.Q(("currency", ""), _negated=True),
            ),
            _connector="OR",
        ),
        name=name,
    )


def _taxrate_unique(name):
    return models.UniqueConstraint(fields=("country", "region"), name=name)


def _taxrate_range(name):
    return models.CheckConstraint(
        condition=models.Q(("rate__gte", 0), ("rate__lte", 100)), name=name
    )


# (model, old name, new name, constraint factory)
RENAMED_CONSTRAINTS = [
    (
        "productprice",
        "invoices_productprice_unique",
        "catalogue_productprice_unique",
        lambda name: _unique_price("product", name),
    ),
    (
        "productprice",
        "invoices_productprice_nonnegative",
        "catalogue_productprice_nonnegative",
        lambda name: _nonnegative("price", "setup_fee", name),
    ),
    (
        "configurableoption",
        "invoices_configurableoption_quantity_range",
        "catalogue_configurableoption_quantity_range",
        _option_range,
    ),
    (
        "configurableoptionprice",
        "invoices_optionprice_unique",
        "catalogue_configurableoptionprice_unique",
        lambda name: _unique_price("option", name),
    ),
    (
        "configurableoptionprice",
        "invoices_optionprice_nonnegative",
        "catalogue_configurableoptionprice_nonnegative",
        lambda name: _nonnegative("unit_price", "setup_fee", name),
    ),
    (
        "coupon",
        "invoices_coupon_value_matches_kind",
        "catalogue_coupon_value_matches_kind",
        _coupon_value,
    ),
    ("taxrate", "invoices_taxrate_unique", "catalogue_taxrate_unique", _taxrate_unique),
    ("taxrate", "invoices_taxrate_range", "catalogue_taxrate_range", _taxrate_range),
]


def _old(model):
    return [make(old) for name, old, _new, make in RENAMED_CONSTRAINTS if name == model]


STATE = [
    migrations.CreateModel(
        name="ProductGroup",
        fields=[
            ("id", _id()),
            ("name", models.CharField(max_length=100)),
            ("slug", models.SlugField(unique=True)),
            ("description", models.TextField(blank=True)),
            ("is_visible", models.BooleanField(default=True)),
            ("sort_order", models.PositiveIntegerField(default=0)),
        ],
        options={"ordering": ["sort_order", "name"], "db_table": "invoices_productgroup"},
    ),
    migrations.CreateModel(
        name="Product",
        fields=[
            ("id", _id()),
            ("name", models.CharField(max_length=150)),
            ("slug", models.SlugField(unique=True)),
            (
                "kind",
                models.CharField(
                    choices=[
                        ("game_server", "Game server"),
                        ("vps", "VPS"),
                        ("web_hosting", "Web hosting"),
                        ("wordpress_site", "WordPress site"),
                        ("dns_plan", "DNS plan"),
                        ("support", "Support subscription"),
                        ("other", "Other"),
                    ],
                    max_length=32,
                ),
            ),
            ("description", models.TextField(blank=True)),
            (
                "module",
                models.CharField(
                    blank=True,
                    help_text="Empty: no automation.",
                    max_length=50,
                    verbose_name="provisioning module",
                ),
            ),
            ("module_settings", models.JSONField(blank=True, default=dict)),
            (
                "stock_limit",
                models.PositiveIntegerField(
                    blank=True,
                    help_text="How many can be sold in all. Empty: unlimited.",
                    null=True,
                ),
            ),
            (
                "is_visible",
                models.BooleanField(default=True, help_text="Shown in the client catalogue."),
            ),
            ("requires_domain", models.BooleanField(default=False)),
            ("requires_hostname", models.BooleanField(default=False)),
            ("usage_metric", models.CharField(blank=True, max_length=50)),
            (
                "usage_included",
                models.DecimalField(
                    blank=True,
                    decimal_places=4,
                    max_digits=14,
                    null=True,
                    validators=[django.core.validators.MinValueValidator(0)],
                ),
            ),
            ("sort_order", models.PositiveIntegerField(default=0)),
            (
                "group",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="products",
                    to="catalogue.productgroup",
                ),
            ),
        ],
        options={
            "ordering": ["group__sort_order", "sort_order", "name"],
            "db_table": "invoices_product",
        },
    ),
    migrations.CreateModel(
        name="ProductPrice",
        fields=[
            ("id", _id()),
            ("cycle", models.CharField(choices=CYCLES, max_length=16)),
            ("currency", _currency()),
            ("price", _money()),
            ("setup_fee", _money()),
            (
                "overage_unit_price",
                _money(
                    blank=True,
                    help_text="Price per unit of usage above the included quantity.",
                    null=True,
                ),
            ),
            (
                "product",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="prices",
                    to="catalogue.product",
                ),
            ),
        ],
        options={
            "ordering": ["product", "currency", "cycle"],
            "db_table": "invoices_productprice",
            "constraints": _old("productprice"),
        },
    ),
    migrations.CreateModel(
        name="ConfigurableOption",
        fields=[
            ("id", _id()),
            ("name", models.CharField(max_length=100)),
            ("unit_label", models.CharField(default="unit", max_length=30)),
            ("min_quantity", models.PositiveIntegerField(default=0)),
            ("max_quantity", models.PositiveIntegerField(default=1)),
            ("sort_order", models.PositiveIntegerField(default=0)),
            (
                "product",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="options",
                    to="catalogue.product",
                ),
            ),
        ],
        options={
            "ordering": ["sort_order", "name"],
            "db_table": "invoices_configurableoption",
            "constraints": _old("configurableoption"),
        },
    ),
    migrations.CreateModel(
        name="ConfigurableOptionPrice",
        fields=[
            ("id", _id()),
            ("cycle", models.CharField(choices=CYCLES, max_length=16)),
            ("currency", _currency()),
            ("unit_price", _money()),
            ("setup_fee", _money()),
            (
                "option",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="prices",
                    to="catalogue.configurableoption",
                ),
            ),
        ],
        options={
            "db_table": "invoices_configurableoptionprice",
            "constraints": _old("configurableoptionprice"),
        },
    ),
    migrations.CreateModel(
        name="Coupon",
        fields=[
            ("id", _id()),
            ("code", models.CharField(help_text="Stored upper-case.", max_length=40, unique=True)),
            (
                "kind",
                models.CharField(
                    choices=[("percent", "Percentage"), ("fixed", "Fixed amount")], max_length=10
                ),
            ),
            (
                "percent",
                models.DecimalField(
                    blank=True,
                    decimal_places=2,
                    max_digits=5,
                    null=True,
                    validators=[
                        django.core.validators.MinValueValidator(Decimal("0.01")),
                        django.core.validators.MaxValueValidator(100),
                    ],
                ),
            ),
            ("currency", _currency(blank=True, help_text="For fixed coupons.")),
            ("amount", _money(blank=True, help_text="For fixed coupons, per invoice.", null=True)),
            (
                "applies",
                models.CharField(
                    choices=[
                        ("first_invoice", "First invoice only"),
                        ("recurring", "Every invoice"),
                    ],
                    max_length=16,
                ),
            ),
            ("starts_at", models.DateTimeField(blank=True, null=True)),
            ("expires_at", models.DateTimeField(blank=True, null=True)),
            (
                "max_uses",
                models.PositiveIntegerField(blank=True, help_text="Empty: no limit.", null=True),
            ),
            ("max_uses_per_customer", models.PositiveIntegerField(blank=True, null=True)),
            ("is_active", models.BooleanField(default=True)),
            ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            (
                "products",
                models.ManyToManyField(
                    blank=True,
                    help_text="Empty: valid for every product.",
                    to="catalogue.product",
                ),
            ),
        ],
        options={
            "ordering": ["code"],
            "db_table": "invoices_coupon",
            "constraints": _old("coupon"),
        },
    ),
    migrations.CreateModel(
        name="TaxRate",
        fields=[
            ("id", _id()),
            (
                "name",
                models.CharField(help_text='Shown on invoices, e.g. "VAT".', max_length=50),
            ),
            ("country", django_countries.fields.CountryField(max_length=2)),
            (
                "region",
                models.CharField(blank=True, help_text="Empty: whole country.", max_length=100),
            ),
            (
                "rate",
                models.DecimalField(
                    decimal_places=3,
                    max_digits=6,
                    validators=[
                        django.core.validators.MinValueValidator(0),
                        django.core.validators.MaxValueValidator(100),
                    ],
                    verbose_name="rate (%)",
                ),
            ),
            ("is_active", models.BooleanField(default=True)),
        ],
        options={
            "ordering": ["country", "region"],
            "db_table": "invoices_taxrate",
            "constraints": _old("taxrate"),
        },
    ),
]



class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("invoices", "0010_product_server_group_to_provisioning"),
        # Every migration that made a foreign key to these tables has run before they are
        # renamed (provisioning's through invoices 0010).
        ("payments", "0008_admin_list_indexes"),
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
        content_types_moved(source="invoices", target="catalogue", models=MOVED),
    ]
