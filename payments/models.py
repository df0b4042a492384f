"""Payments received for invoices.

A `Payment` is recorded once per provider reference (unique per gateway), so a webhook, the
customer's return page and a reconciliation pass can all report the same payment and only
the first one counts. A payment that cannot be applied as it stands (wrong amount or
currency, invoice no longer payable) is `held` for staff review instead of being applied.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from billing_portal.common.money import currency_field, money_field


class Payment(models.Model):
    class Status(models.TextChoices):
        APPLIED = "applied", "Applied"
        HELD = "held", "Held for review"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        REFUNDED = "refunded", "Refunded"

    class Method(models.TextChoices):
        CARD = "card", "Card"
        PAYPAL = "paypal", "PayPal"
        BANK_TRANSFER = "bank_transfer", "Bank transfer"
        CHEQUE = "cheque", "Cheque"
        CASH = "cash", "Cash"
        CREDIT = "credit", "Account credit"
        OTHER = "other", "Other"

    invoice = models.ForeignKey(
        "invoices.Invoice", on_delete=models.PROTECT, related_name="payments"
    )
    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="payments"
    )
    gateway = models.CharField(max_length=32, help_text="Registry name: stripe, paypal, manual…")
    reference = models.CharField(max_length=255, help_text="The provider's id for the payment.")
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.OTHER)
    status = models.CharField(max_length=20, choices=Status.choices, db_index=True)
    currency = currency_field()
    amount = money_field()
    fee = money_field()
    amount_refunded = money_field()
    review_reason = models.CharField(max_length=300, blank=True)
    raw = models.JSONField(default=dict, blank=True, help_text="The provider's payload.")
    received_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            # The customer's payment list; the id orders payments received together.
            models.Index(fields=["customer", "-received_at", "-id"], name="payments_customer_idx"),
            models.Index(fields=["-received_at", "-id"], name="payments_payment_received_idx"),
        ]
        permissions = [("refund_payment", "Can refund payments")]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "reference"], name="payments_payment_reference_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_payment_positive"),
            models.CheckConstraint(
                condition=Q(fee__gte=0, amount_refunded__gte=0, amount_refunded__lte=F("amount")),
                name="payments_payment_fee_refund_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_gateway_display()} {self.amount} ({self.reference})"

    def get_gateway_display(self) -> str:
        return self.gateway.replace("_", " ").capitalize()


class WebhookEvent(models.Model):
    """A verified delivery from a payment provider, stored before it is processed.

    Unique per (provider, event id): redeliveries are acknowledged without work. Processing
    happens in a task after commit; a failing handler leaves the event `failed` with its
    error and attempt count (retried, then shown to staff), never silently done.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"
        IGNORED = "ignored", "Ignored"

    provider = models.CharField(max_length=32)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100, db_index=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.TextField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"], name="payments_webhookevent_unique"
            ),
        ]
        indexes = [
            # the staff list's order (and ranges of received_at)
            models.Index(fields=["-received_at", "-id"], name="payments_webhook_received_idx"),
            # The daily prune's selection (payments.services.webhook_payloads_prune): the
            # handled deliveries whose payload is still there, by age. Pruned rows stay
            # forever, and without it each run walked every one of them.
            models.Index(
                fields=["received_at"],
                condition=Q(status__in=["processed", "ignored"]) & ~Q(body=""),
                name="payments_webhook_unpruned_idx",
            ),
        ]
        permissions = [("reprocess_webhookevent", "Can reprocess webhook events")]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_id}"


class GatewayCustomer(models.Model):
    """The provider's id for one of our customers (Stripe `cus_…`)."""

    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="gateway_customers"
    )
    gateway = models.CharField(max_length=32)
    reference = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "gateway"], name="payments_gatewaycustomer_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.reference}"


class PaymentAttempt(models.Model):
    """One call to a provider that may move money or save a card: a "Pay" click, an "Add
    card" click, or an off-session renewal charge. Its id makes the provider call's
    idempotency key, so a retried call cannot charge or start a checkout twice."""

    class Kind(models.TextChoices):
        CHECKOUT = "checkout", "Checkout"
        CARD_SETUP = "card_setup", "Card setup"
        OFF_SESSION = "off_session", "Off-session charge"

    class Status(models.TextChoices):
        STARTED = "started", "Started"
        REDIRECTED = "redirected", "Sent to the provider"
        COMPLETED = "completed", "Completed"
        ABANDONED = "abandoned", "Abandoned"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CHECKOUT)
    invoice = models.ForeignKey(
        "invoices.Invoice",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="payment_attempts",
    )
    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.CASCADE, related_name="payment_attempts"
    )
    gateway = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STARTED)
    reference = models.CharField(max_length=255, blank=True, db_index=True)
    currency = currency_field(blank=True)
    amount = money_field(null=True, blank=True)
    error = models.TextField(blank=True)
    # Off-session charges: which try of the dunning schedule this is (1: the due date).
    attempt_number = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Each try of the schedule charges a renewal at most once, whatever runs or retries.
            models.UniqueConstraint(
                fields=["invoice", "attempt_number"],
                condition=Q(kind="off_session"),
                name="payments_attempt_one_off_session_try",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.gateway})"

    @property
    def idempotency_key(self) -> str:
        if self.kind == self.Kind.OFF_SESSION:  # one key per invoice and try of the schedule
            return f"invoice-{self.invoice_id}-off-session-{self.attempt_number}"
        return f"payment-attempt-{self.pk}"


class RefundRequest(models.Model):
    """A refund staff asked a provider to make: our record, whose id keys the provider call."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refund_requests")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    currency = currency_field()
    amount = money_field()
    reason = models.TextField()
    reference = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Refund of {self.amount} on {self.payment}"

    @property
    def idempotency_key(self) -> str:
        return f"refund-{self.pk}"


class SavedPaymentMethod(models.Model):
    """A card the customer saved at a provider (only its reference and display details are
    kept here; the card itself never touches the portal)."""

    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.CASCADE, related_name="saved_payment_methods"
    )
    gateway = models.CharField(max_length=32)
    reference = models.CharField(max_length=255)
    brand = models.CharField(max_length=30, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    # The provider's fingerprint of the card number (Stripe `card.fingerprint`): the same
    # card saved on two accounts has the same one, so a free trial is not taken twice.
    fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    is_default = models.BooleanField(default=False)
    # The expiry ("YYYY-MM") the customer was last told about: one notice per card and expiry.
    expiry_noticed = models.CharField(max_length=7, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-is_default", "-created_at", "-id"]
        indexes = [  # the customer's cards, in this order
            models.Index(
                fields=["customer", "-is_default", "-created_at", "-id"],
                name="payments_savedmethod_cust_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "reference"], name="payments_savedmethod_reference_unique"
            ),
            models.UniqueConstraint(
                fields=["customer", "gateway"],
                condition=Q(is_default=True),
                name="payments_savedmethod_one_default",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.brand.title() or 'Card'} •••• {self.last4}"


class GatewayPlan(models.Model):
    """A provider-side recurring plan for one product price (PayPal catalog product and
    billing plan), created on first use and reused."""

    gateway = models.CharField(max_length=32)
    product = models.ForeignKey("catalogue.Product", on_delete=models.PROTECT, related_name="+")
    cycle = models.CharField(max_length=16)
    currency = currency_field()
    amount = money_field()
    product_reference = models.CharField(max_length=255)
    reference = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "product", "cycle", "currency", "amount"],
                name="payments_gatewayplan_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} plan {self.reference}"


class GatewaySubscription(models.Model):
    """A provider subscription paying one service's renewals automatically."""

    class Status(models.TextChoices):
        APPROVAL_PENDING = "approval_pending", "Waiting for approval"
        ACTIVE = "active", "Active"
        CANCELLED = "cancelled", "Cancelled"

    service = models.ForeignKey(
        "provisioning.Service", on_delete=models.PROTECT, related_name="gateway_subscriptions"
    )
    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="gateway_subscriptions"
    )
    gateway = models.CharField(max_length=32)
    reference = models.CharField(max_length=255, blank=True)
    plan = models.ForeignKey(GatewayPlan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.APPROVAL_PENDING, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [  # the customer's subscriptions, in this order (the API's list)
            models.Index(
                fields=["customer", "-created_at", "-id"], name="payments_subscription_cust_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "reference"],
                condition=~Q(reference=""),
                name="payments_gatewaysubscription_reference_unique",
            ),
            models.UniqueConstraint(
                fields=["service"],
                condition=Q(status__in=["approval_pending", "active"]),
                name="payments_gatewaysubscription_one_live_per_service",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} subscription {self.reference or '(pending)'}"
