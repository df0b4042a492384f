"""Invoices (the orders they bill are the `catalogue` app's; placing one is billing's).

Invoices: an `Invoice` is a draft until issued; issuing assigns a number from a locked
`InvoiceNumberSequence` row, freezes seller and buyer details and makes it immutable (only
payment and status fields change afterwards; corrections are credit notes). Amounts are
Decimal with one currency per invoice. The database enforces:
- every stored amount is non-negative and totals add up (total = subtotal - discount + tax),
  on invoices and on each line;
- an issued invoice has a number, unique per series;
- one service line per (service, period start): a service period is billed exactly once.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from djmoney.money import Money

from billing_portal.common.db import nonnegative_check
from billing_portal.common.money import (
    currency_field,
    money_adds_up_constraint,
    money_field,
    money_zero,
)

# --- Invoices -----------------------------------------------------------------------------


class InvoiceNumberSequence(models.Model):
    """The counter of one numbering series, locked while a number is taken from it."""

    series = models.CharField(max_length=20, unique=True)
    next_number = models.PositiveBigIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.series}: next {self.next_number}"


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        UNPAID = "unpaid", "Unpaid"
        PAID = "paid", "Paid"
        CANCELLED = "cancelled", "Cancelled"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        REFUNDED = "refunded", "Refunded"

    class Kind(models.TextChoices):
        ORDER = "order", "New order"
        RENEWAL = "renewal", "Renewal"
        LATE_FEE = "late_fee", "Late fee"
        MANUAL = "manual", "Manual"
        CREDIT_PURCHASE = "credit", "Account credit purchase"
        TOKEN_PURCHASE = "tokens", "VPS token purchase"
        UPGRADE = "upgrade", "Plan upgrade"

    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="invoices"
    )
    order = models.ForeignKey(
        "catalogue.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoices",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MANUAL)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    series = models.CharField(max_length=20, blank=True)
    sequence_number = models.PositiveBigIntegerField(null=True, blank=True)
    number = models.CharField(max_length=40, null=True, blank=True, unique=True)

    currency = currency_field()
    subtotal = money_field()
    discount_total = money_field()
    tax_total = money_field()
    total = money_field()
    amount_paid = money_field()
    amount_refunded = money_field()

    prices_include_tax = models.BooleanField(default=False)
    tax_name = models.CharField(max_length=50, blank=True)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=3, default=Decimal("0"))
    reverse_charge = models.BooleanField(default=False)
    tax_note = models.CharField(max_length=200, blank=True)
    seller_details = models.JSONField(default=dict, blank=True)
    buyer_details = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)

    due_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    issued_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="invoices_invoice_cust_idx"),
            # The customer's invoice list (issued, newest first), read a page at a time.
            models.Index(
                fields=["customer", "-issued_at", "-id"], name="invoices_invoice_issued_idx"
            ),
            # The staff list's order (newest first), read a page at a time at any size.
            models.Index(fields=["-created_at", "-id"], name="invoices_invoice_created_idx"),
            models.Index(fields=["status", "due_date"], name="invoices_invoice_due_idx"),
        ]
        permissions = [
            ("issue_invoice", "Can issue draft invoices"),
            ("cancel_invoice", "Can cancel unpaid invoices"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["series", "sequence_number"],
                condition=Q(sequence_number__isnull=False),
                name="invoices_invoice_number_unique_per_series",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(number__isnull=False, issued_at__isnull=False),
                name="invoices_invoice_issued_has_number",
            ),
            nonnegative_check(
                "invoices_invoice_amounts_nonnegative",
                "subtotal",
                "discount_total",
                "tax_total",
                "total",
                "amount_paid",
                "amount_refunded",
            ),
            money_adds_up_constraint(
                "invoices_invoice_total_adds_up",
                "total",
                plus=("subtotal", "tax_total"),
                minus=("discount_total",),
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"Draft invoice #{self.pk}"

    @property
    def seller_address_lines(self) -> list[str]:
        """The frozen seller address, a line each. Invoices issued before SELLER_ADDRESS's
        "\\n" was read as a line break hold the two characters: they print as lines too."""
        return self.seller_details.get("address", "").replace("\\n", "\n").splitlines()

    @property
    def amount_due(self) -> Money:
        due = self.total - self.amount_paid
        return due if due.amount > 0 else money_zero(str(self.currency))

    @property
    def is_issued(self) -> bool:
        return self.status != self.Status.DRAFT


# The invoice state machine; services check it under a row lock before any change.
INVOICE_TRANSITIONS: dict[str, frozenset[str]] = {
    Invoice.Status.DRAFT: frozenset({Invoice.Status.UNPAID, Invoice.Status.CANCELLED}),
    Invoice.Status.UNPAID: frozenset({Invoice.Status.PAID, Invoice.Status.CANCELLED}),
    Invoice.Status.PAID: frozenset({Invoice.Status.PARTIALLY_REFUNDED, Invoice.Status.REFUNDED}),
    Invoice.Status.PARTIALLY_REFUNDED: frozenset({Invoice.Status.REFUNDED}),
    Invoice.Status.CANCELLED: frozenset(),
    Invoice.Status.REFUNDED: frozenset(),
}


class InvoiceLine(models.Model):
    class Kind(models.TextChoices):
        SERVICE = "service", "Service"
        SETUP_FEE = "setup_fee", "Setup fee"
        OPTION = "option", "Configurable option"
        OVERAGE = "overage", "Usage overage"
        LATE_FEE = "late_fee", "Late fee"
        MANUAL = "manual", "Manual"
        CREDIT = "credit", "Account credit"
        TOKENS = "tokens", "VPS tokens"
        PLAN_CHANGE = "plan_change", "Plan change"
        # The customer's client group discount: the one kind of line that is negative.
        GROUP_DISCOUNT = "group_discount", "Client group discount"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    description = models.CharField(max_length=300)
    service = models.ForeignKey(
        "provisioning.Service",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoice_lines",
    )
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    quantity = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("1"))
    currency = currency_field()
    unit_price = money_field(help_text="As catalogued: tax-inclusive if the invoice's prices are.")
    amount = money_field(help_text="Net of tax, before discount.")
    discount = money_field()
    tax = money_field()
    total = money_field()
    position = models.PositiveIntegerField(default=0)
    # A renewal cancelled because its service was to end (a cancellation request) gives its
    # period back: the period may be billed again (the request withdrawn, or another service
    # of a combined renewal). Lines of invoices cancelled for any other reason keep theirs.
    period_released = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "period_start"],
                condition=Q(kind="service", period_released=False),
                name="invoices_invoiceline_one_per_service_period",
            ),
            # Every line is zero or above but a client group discount, which is zero or
            # below and carries no discount of its own (its whole amount is the discount).
            models.CheckConstraint(
                condition=Q(kind="group_discount")
                | Q(amount__gte=0, discount__gte=0, tax__gte=0, total__gte=0),
                name="invoices_invoiceline_nonnegative",
            ),
            models.CheckConstraint(
                condition=~Q(kind="group_discount")
                | Q(amount__lte=0, discount=0, tax__lte=0, total__lte=0),
                name="invoices_invoiceline_group_discount_nonpositive",
            ),
            money_adds_up_constraint(
                "invoices_invoiceline_total_adds_up",
                "total",
                plus=("amount", "tax"),
                minus=("discount",),
            ),
            models.CheckConstraint(
                condition=Q(discount__lte=F("amount")) | Q(kind="group_discount"),
                name="invoices_invoiceline_discount_le",
            ),
        ]

    def __str__(self) -> str:
        return self.description


class CreditNote(models.Model):
    """A correction to an issued invoice, numbered in its own series. It reduces what the
    invoice is worth (recorded as `amount_refunded`); returning the money itself, to the
    card or as account credit, is the payments' and credits' business."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="credit_notes"
    )
    series = models.CharField(max_length=20)
    sequence_number = models.PositiveBigIntegerField()
    number = models.CharField(max_length=40, unique=True)
    currency = currency_field()
    amount = money_field()
    reason = models.TextField()
    seller_details = models.JSONField(default=dict, blank=True)
    buyer_details = models.JSONField(default=dict, blank=True)
    issued_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-issued_at", "-id"]
        indexes = [  # the staff list's order
            models.Index(fields=["-issued_at", "-id"], name="invoices_creditnote_issued_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["series", "sequence_number"], name="invoices_creditnote_number_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="invoices_creditnote_positive"),
        ]

    def __str__(self) -> str:
        return self.number


class InvoiceNotice(models.Model):
    """A reminder or late fee the billing run sent for an invoice: at most one of each kind
    per invoice, whatever runs, retries or concurrent runs happen."""

    class Kind(models.TextChoices):
        UPCOMING = "upcoming", "Payment reminder (upcoming)"
        DUE = "due", "Payment due today"
        OVERDUE_1 = "overdue_1", "First overdue notice"
        OVERDUE_2 = "overdue_2", "Second overdue notice"
        OVERDUE_3 = "overdue_3", "Final overdue notice"
        LATE_FEE = "late_fee", "Late fee charged"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    fee_invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "kind"], name="invoices_invoicenotice_once_per_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.invoice}"


class UsageRecord(models.Model):
    """A measured quantity of a service's usage metric (e.g. bandwidth in GB, call minutes,
    seats) at a time; renewals bill what is above the product's included quantity. Records
    reported through the API carry the caller's idempotency key, so a report sent again is
    the first record, never a second one (rows staff add in the admin have none)."""

    service = models.ForeignKey(
        "provisioning.Service", on_delete=models.CASCADE, related_name="usage_records"
    )
    metric = models.CharField(max_length=50)
    quantity = models.DecimalField(max_digits=14, decimal_places=4)
    recorded_at = models.DateTimeField(default=timezone.now)
    idempotency_key = models.CharField(max_length=300, null=True, blank=True, editable=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["service", "metric", "recorded_at"], name="invoices_usage_service_idx"
            ),
            # A service's usage, newest first (the staff API's list), a page at a time.
            models.Index(
                fields=["service", "-recorded_at", "-id"], name="invoices_usage_recent_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=0), name="invoices_usagerecord_quantity_nonneg"
            ),
            models.UniqueConstraint(
                fields=["service", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="invoices_usagerecord_key_unique_per_service",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.quantity} at {self.recorded_at:%Y-%m-%d %H:%M}"


def seller_details_from_settings() -> dict[str, str]:
    """The seller block frozen onto each invoice when it is issued."""
    return dict(settings.SELLER_DETAILS)
