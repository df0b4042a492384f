"""What credit and token purchases leave behind: the VirtFusion token purchase (bought with an
invoice or granted by staff, delivered and, after a refund, taken back through the operation
kernel) and the refund shortfall (what a refund of a purchase could not take back). Moved here
from credits (issue 13): they point at invoices, which the ledger below them cannot."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing_portal.common.models import Operation
from billing_portal.common.money import currency_field, money_field


def _token_purchase_key() -> str:
    return f"token-purchase:{uuid.uuid4().hex}"


class TokenPurchase(Operation):
    """VirtFusion VPS tokens the portal adds to a customer's panel account: bought by the
    customer (with an invoice) or granted by staff. The portal never holds the balance, only
    this record of every credit it makes, so each one is sent at most once (see
    `billing.services.tokens`).

    The row is also the operation that delivers the tokens and, after a refund, the one that
    takes them back (the kernel's `Operation`; one call at a time, so one row carries both):
    `status` is what customers and staff see, in the kernel's terms per kind."""

    class Source(models.TextChoices):
        PURCHASE = "purchase", "Purchase"
        STAFF = "staff", "Added by staff"

    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
        PENDING = "pending", "Pending"  # queued, or waiting for its next attempt
        SENDING = "sending", "Sending"  # a call to VirtFusion is in flight
        DELIVERED = "delivered", "Added"
        # The answer to a call was lost: VirtFusion may or may not have added the tokens.
        # Never resent automatically; staff check the panel and resolve it.
        UNCERTAIN = "uncertain", "Needs checking"
        FAILED = "failed", "Failed"
        CONVERTED = "converted", "Converted to account credit"
        REFUNDED = "refunded", "Refunded"
        CANCELLED = "cancelled", "Cancelled"
        # The payment was refunded after delivery: the tokens are being taken back out of
        # VirtFusion (the same claim-call-record cycle as a delivery; see billing.services.tokens).
        REMOVAL_PENDING = "removal_pending", "Being taken back"
        REMOVING = "removing", "Being taken back"
        REMOVED = "removed", "Taken back (refunded)"

    STAFF_RESOLVABLE = (Status.PENDING, Status.UNCERTAIN, Status.FAILED)
    CUSTOMER_PENDING = (Status.PENDING, Status.SENDING, Status.UNCERTAIN, Status.FAILED)

    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="token_purchases"
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    invoice = models.OneToOneField(
        "invoices.Invoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="token_purchase",
    )
    status = models.CharField(max_length=20, choices=Status.choices, db_index=True)
    idempotency_key = models.CharField(max_length=200, unique=True, default=_token_purchase_key)
    tokens = models.DecimalField(max_digits=14, decimal_places=2)
    rate = models.DecimalField(
        max_digits=12, decimal_places=4, help_text="Tokens per unit of the currency."
    )
    currency = currency_field()
    amount = money_field(help_text="Price of the tokens before tax (zero for staff grants).")
    virtfusion_credit_id = models.PositiveBigIntegerField(null=True, blank=True)
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)
    resolution = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [  # the customer's token history and the staff list, newest first
            models.Index(fields=["customer", "-created_at", "-id"], name="billing_token_cust_idx"),
            models.Index(fields=["-created_at", "-id"], name="billing_token_created_idx"),
        ]
        permissions = [("manage_tokens", "Can add, resolve and cancel VPS tokens")]
        constraints = [
            models.CheckConstraint(
                condition=Q(tokens__gt=0), name="billing_tokenpurchase_positive"
            ),
            models.CheckConstraint(
                condition=Q(source="staff") | Q(invoice__isnull=False),
                name="billing_tokenpurchase_purchase_has_invoice",
            ),
            models.UniqueConstraint(
                fields=["virtfusion_credit_id"],
                condition=Q(virtfusion_credit_id__isnull=False),
                name="billing_tokenpurchase_virtfusion_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.tokens.normalize():f} tokens for {self.customer} ({self.get_status_display()})"
        )

    @property
    def customer_status(self) -> str:
        return "Pending" if self.status in self.CUSTOMER_PENDING else self.get_status_display()


class RefundShortfall(models.Model):
    """What a refund could not take back: account credit the customer had already spent,
    VPS tokens already used, or tokens VirtFusion cannot take back on its own. The refund
    itself is booked; this is the part staff must settle (recover, write off), listed in
    the admin until resolved."""

    class Kind(models.TextChoices):
        CREDIT = "credit", "Account credit already spent"
        TOKENS = "tokens", "VPS tokens"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="refund_shortfalls"
    )
    invoice = models.ForeignKey(
        "invoices.Invoice", on_delete=models.PROTECT, related_name="refund_shortfalls"
    )
    token_purchase = models.ForeignKey(
        TokenPurchase, null=True, blank=True, on_delete=models.PROTECT, related_name="shortfalls"
    )
    payment_reference = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    currency = currency_field()
    amount = money_field(help_text="Value of what could not be taken back.")
    tokens = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    description = models.TextField(help_text="What happened and what staff should check.")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [  # the staff list's order: open ones first ("open" > "resolved"), newest
            models.Index(
                fields=["-status", "-created_at", "-id"], name="billing_shortfall_status_idx"
            ),
        ]
        permissions = [("resolve_refundshortfall", "Can resolve refund shortfalls")]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="billing_refundshortfall_amount_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(status="open") | Q(resolved_at__isnull=False),
                name="billing_refundshortfall_resolved_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"Refund shortfall #{self.pk}: {self.get_kind_display()} ({self.amount})"
