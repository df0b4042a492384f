"""The account-credit ledger.

A `CreditAccount` per customer and currency caches the balance; `CreditEntry` rows are the
truth and are append-only. The database enforces, whatever code runs:
- an entry's amount is not zero and balance_after = balance_before + amount;
- no balance, cached or after an entry, is ever negative;
- sequence numbers and idempotency keys are unique per account;
- entries cannot be updated or deleted (triggers, see migration 0002).
Only `credits.services.credit_entry_append` writes entries: it locks the account row first.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing_portal.common.money import currency_field, money_adds_up_constraint, money_field


class CreditAccount(models.Model):
    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="credit_accounts"
    )
    currency = currency_field()
    balance = money_field()
    last_sequence = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["customer", "currency"]
        permissions = [("change_credit", "Can add and remove account credit")]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "currency"], name="credits_account_unique_per_currency"
            ),
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="credits_account_balance_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} credit {self.balance}"


class CreditEntry(models.Model):
    class Kind(models.TextChoices):
        PURCHASE = "purchase", "Credit purchase"
        ADMIN_ADD = "admin_add", "Added by staff"
        ADMIN_REMOVE = "admin_remove", "Removed by staff"
        INVOICE_PAYMENT = "invoice_payment", "Invoice payment"
        REFUND_TO_CREDIT = "refund_to_credit", "Refund to credit"
        DOWNGRADE_CREDIT = "downgrade_credit", "Downgrade credit"
        OVERPAYMENT = "overpayment", "Overpayment"
        SERVICE_PURCHASE = "service_purchase", "Service purchase"
        REVERSAL = "reversal", "Reversal"
        PURCHASE_REFUNDED = "purchase_refunded", "Purchase refunded"

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="entries")
    sequence = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    currency = currency_field()
    amount = money_field(help_text="Signed: positive adds credit, negative spends it.")
    balance_before = money_field()
    balance_after = money_field()
    description = models.CharField(max_length=300, blank=True)
    payment_reference = models.CharField(max_length=255, blank=True)
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sequence"]
        indexes = [
            # The customer's credit history (newest first, per account). The account's
            # entries in sequence order are the unique (account, sequence) index's.
            models.Index(
                fields=["account", "-created_at", "-id"], name="credits_entry_acct_created_idx"
            ),
            # The staff list across accounts, newest first.
            models.Index(fields=["-created_at", "-id"], name="credits_entry_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="credits_entry_amount_nonzero"),
            money_adds_up_constraint(
                "credits_entry_balance_arithmetic",
                "balance_after",
                plus=("balance_before", "amount"),
            ),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="credits_entry_balance_nonnegative"
            ),
            models.UniqueConstraint(
                fields=["account", "sequence"], name="credits_entry_sequence_unique"
            ),
            models.UniqueConstraint(
                fields=["account", "idempotency_key"], name="credits_entry_idempotency_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.get_kind_display()} {self.amount}"
