"""The catalogue: what the portal sells and at what price.

`ProductGroup` > `Product` with a `ProductPrice` per billing cycle and currency, and priced
per-unit `ConfigurableOption`s. `Coupon`s discount orders; `TaxRate`s apply by country/region
(invoices decide how a rate applies to a customer). Where a product's services are placed is
provisioning's (`provisioning.ProductPlacement`): the catalogue knows nothing above it.

An `Order` is what a customer bought from it, with the `CouponRedemption` counted against the
coupon's limits; placing one (services, invoice) is billing's flow. Services and invoices
point at the order: it sits below them.

A `ClientGroup` is a pricing tier: a customer is in at most one (`CustomerGroup`), and its
`ClientGroupDiscount`s take a percentage off what its members are invoiced (invoices apply
them: `invoices.services.group_discounts`).
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django_countries.fields import CountryField

from billing_portal.common.db import nonnegative_check
from billing_portal.common.money import currency_field, money_field


class BillingCycle(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    SEMIANNUAL = "semiannual", "Semi-annually"
    ANNUAL = "annual", "Annually"
    BIENNIAL = "biennial", "Biennially"
    ONE_TIME = "one_time", "One time"


# Months per cycle; a one-time purchase has no renewal period.
CYCLE_MONTHS: dict[str, int | None] = {
    BillingCycle.MONTHLY: 1,
    BillingCycle.QUARTERLY: 3,
    BillingCycle.SEMIANNUAL: 6,
    BillingCycle.ANNUAL: 12,
    BillingCycle.BIENNIAL: 24,
    BillingCycle.ONE_TIME: None,
}


# --- Catalogue ----------------------------------------------------------------------------


class ProductGroup(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    is_visible = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    class Kind(models.TextChoices):
        GAME_SERVER = "game_server", "Game server"
        VPS = "vps", "VPS"
        WEB_HOSTING = "web_hosting", "Web hosting"
        WORDPRESS_SITE = "wordpress_site", "WordPress site"
        DNS_PLAN = "dns_plan", "DNS plan"
        SUPPORT = "support", "Support subscription"
        OTHER = "other", "Other"

    group = models.ForeignKey(ProductGroup, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=150)
    slug = models.SlugField(unique=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    description = models.TextField(blank=True)
    module = models.CharField(
        "provisioning module", max_length=50, blank=True, help_text="Empty: no automation."
    )
    module_settings = models.JSONField(default=dict, blank=True)
    stock_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="How many can be sold in all. Empty: unlimited."
    )
    is_visible = models.BooleanField(default=True, help_text="Shown in the client catalogue.")
    requires_domain = models.BooleanField(default=False)
    requires_hostname = models.BooleanField(default=False)
    # Usage billing: a quantity of `usage_metric` included per period; the rest is overage.
    usage_metric = models.CharField(max_length=50, blank=True)
    usage_included = models.DecimalField(
        max_digits=14, decimal_places=4, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    sort_order = models.PositiveIntegerField(default=0)
    refund_on_immediate_cancel = models.BooleanField(
        "refund unused time on immediate cancellation",
        default=False,
        help_text="A service cancelled at once gets the unused part of its paid period back "
        "as account credit (prorated by days, as plan changes are).",
    )
    trial_days = models.PositiveSmallIntegerField(
        "free trial days",
        default=0,
        validators=[MaxValueValidator(365)],
        help_text="0: no trial. A customer's first order of it (once per customer and per "
        "saved card) starts free for this many days; the first invoice follows as a renewal.",
    )

    class Meta:
        ordering = ["group__sort_order", "sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class ProductPrice(models.Model):
    """The price of a product for one billing cycle in one currency."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="prices")
    cycle = models.CharField(max_length=16, choices=BillingCycle.choices)
    currency = currency_field()
    price = money_field()
    setup_fee = money_field()
    overage_unit_price = money_field(
        null=True, blank=True, help_text="Price per unit of usage above the included quantity."
    )

    class Meta:
        ordering = ["product", "currency", "cycle"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "cycle", "currency"], name="catalogue_productprice_unique"
            ),
            nonnegative_check("catalogue_productprice_nonnegative", "price", "setup_fee"),
        ]

    def __str__(self) -> str:
        return f"{self.product} {self.get_cycle_display()} {self.price}"


class ConfigurableOption(models.Model):
    """A priced, per-unit add-on such as extra memory (GB), extra backups or extra domains."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="options")
    name = models.CharField(max_length=100)
    unit_label = models.CharField(max_length=30, default="unit")
    min_quantity = models.PositiveIntegerField(default=0)
    max_quantity = models.PositiveIntegerField(default=1)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_quantity__gte=F("min_quantity")),
                name="catalogue_configurableoption_quantity_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product}: {self.name}"


class ConfigurableOptionPrice(models.Model):
    option = models.ForeignKey(ConfigurableOption, on_delete=models.CASCADE, related_name="prices")
    cycle = models.CharField(max_length=16, choices=BillingCycle.choices)
    currency = currency_field()
    unit_price = money_field()
    setup_fee = money_field()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["option", "cycle", "currency"],
                name="catalogue_configurableoptionprice_unique",
            ),
            nonnegative_check(
                "catalogue_configurableoptionprice_nonnegative", "unit_price", "setup_fee"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.option} {self.get_cycle_display()} {self.unit_price}"


class Coupon(models.Model):
    class Kind(models.TextChoices):
        PERCENT = "percent", "Percentage"
        FIXED = "fixed", "Fixed amount"

    class Applies(models.TextChoices):
        FIRST_INVOICE = "first_invoice", "First invoice only"
        RECURRING = "recurring", "Every invoice"

    code = models.CharField(max_length=40, unique=True, help_text="Stored upper-case.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(100)],
    )
    currency = currency_field(blank=True, help_text="For fixed coupons.")
    amount = money_field(null=True, blank=True, help_text="For fixed coupons, per invoice.")
    applies = models.CharField(max_length=16, choices=Applies.choices)
    products = models.ManyToManyField(
        Product, blank=True, help_text="Empty: valid for every product."
    )
    starts_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    max_uses = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no limit.")
    max_uses_per_customer = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="percent", percent__isnull=False, amount__isnull=True)
                    | (Q(kind="fixed", percent__isnull=True, amount__gt=0) & ~Q(currency=""))
                ),
                name="catalogue_coupon_value_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class TaxRate(models.Model):
    """A tax rate for a country, or one region of it (a region rate wins over the country's)."""

    name = models.CharField(max_length=50, help_text='Shown on invoices, e.g. "VAT".')
    country = CountryField()
    region = models.CharField(max_length=100, blank=True, help_text="Empty: whole country.")
    rate = models.DecimalField(
        "rate (%)",
        max_digits=6,
        decimal_places=3,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["country", "region"]
        constraints = [
            models.UniqueConstraint(fields=["country", "region"], name="catalogue_taxrate_unique"),
            models.CheckConstraint(
                condition=Q(rate__gte=0, rate__lte=100), name="catalogue_taxrate_range"
            ),
        ]

    def __str__(self) -> str:
        where = f"{self.country.code}/{self.region}" if self.region else self.country.code
        return f"{self.name} {self.rate}% ({where})"


# --- Orders -------------------------------------------------------------------------------


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting payment"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    coupon = models.ForeignKey(Coupon, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # The API's Idempotency-Key reference of the request that placed it: a retry of that
    # request finds this order instead of placing another. Null for the client area's.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["-created_at", "-id"], name="catalogue_order_created_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="catalogue_order_idempotency_key_unique",
            )
        ]

    def __str__(self) -> str:
        return f"Order #{self.pk}"


class CouponRedemption(models.Model):
    """One use of a coupon, counted against its total and per-customer limits."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions")
    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="coupon_redemptions"
    )
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="coupon_redemption")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.coupon} on order #{self.order_id}"


class TrialRedemption(models.Model):
    """A free trial a customer took of a product, with the fingerprints of the cards they
    had saved then: a card cannot start a second trial of it on another account, even once
    it is removed from the first."""

    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="trial_redemptions"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="trial_redemption")
    days = models.PositiveSmallIntegerField()
    ends_on = models.DateField(help_text="The trial's last free day.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "product"], name="catalogue_trialredemption_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.product} trial on order #{self.order_id}"


class TrialCardFingerprint(models.Model):
    """A card (by its provider's fingerprint) the customer had saved when the trial began."""

    redemption = models.ForeignKey(
        TrialRedemption, on_delete=models.CASCADE, related_name="card_fingerprints"
    )
    fingerprint = models.CharField(max_length=64, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["redemption", "fingerprint"], name="catalogue_trialcardfingerprint_unique"
            )
        ]

    def __str__(self) -> str:
        return self.fingerprint


# --- Client groups ------------------------------------------------------------------------


class ClientGroup(models.Model):
    """A pricing tier (resellers, loyal customers): its discounts apply to every invoice its
    members are issued while they belong to it (orders, renewals, plan changes)."""

    name = models.CharField(max_length=100, unique=True)
    colour = models.CharField(
        max_length=7,
        default="#6c757d",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Enter a colour such as #1f77b4.")],
        help_text="The badge colour staff see next to its members, e.g. #1f77b4.",
    )
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ClientGroupDiscount(models.Model):
    """A percentage off for a group's members, on one product group or (empty) on everything;
    a product group's own discount wins over the group's discount for everything."""

    group = models.ForeignKey(ClientGroup, on_delete=models.CASCADE, related_name="discounts")
    product_group = models.ForeignKey(
        ProductGroup,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="client_group_discounts",
        help_text="Empty: every product.",
    )
    percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(100)],
    )
    includes_setup_fees = models.BooleanField(
        "also on setup fees", default=False, help_text="Unticked: setup fees are paid in full."
    )

    class Meta:
        ordering = ["group", "product_group"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "product_group"],
                name="catalogue_clientgroupdiscount_one_per_product_group",
            ),
            models.UniqueConstraint(
                fields=["group"],
                condition=Q(product_group__isnull=True),
                name="catalogue_clientgroupdiscount_one_for_everything",
            ),
            models.CheckConstraint(
                condition=Q(percent__gt=0, percent__lte=100),
                name="catalogue_clientgroupdiscount_percent_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group}: {self.percent}% on {self.product_group or 'everything'}"


class CustomerGroup(models.Model):
    """A customer's membership of a client group (at most one: the customer is the key).
    Kept here, not on the customer, because accounts sit below the catalogue."""

    customer = models.OneToOneField(
        "accounts.Customer", on_delete=models.CASCADE, related_name="client_group"
    )
    group = models.ForeignKey(ClientGroup, on_delete=models.PROTECT, related_name="members")
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.customer} in {self.group}"
