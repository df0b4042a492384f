"""Serializers of the staff money endpoints (billing/api/staff_billing.py): input shapes
only check types and ranges; every business rule is the service's."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django_countries import countries
from rest_framework import serializers

from accounts.models import Customer
from billing.api.serializers import (
    InvoiceDetailSerializer,
    InvoiceSerializer,
    MoneyField,
)
from billing.models import TokenPurchase
from credits.models import CreditEntry
from invoices.models import CreditNote, UsageRecord
from payments.models import Payment
from provisioning.models import ProvisioningOperation

AMOUNT = {"max_digits": 14, "decimal_places": 2, "min_value": Decimal("0.01")}
# The API's ids are PostgreSQL bigints: a larger one is simply not found (404), not a 500.
ID = {"min_value": 1, "max_value": 2**63 - 1}
REASON = {"max_length": 2000, "help_text": "Mandatory: kept with the record and audited."}

# --- Customers ------------------------------------------------------------------------------


class StaffCustomerSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    country = serializers.CharField(read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "email",
            "name",
            "company",
            "country",
            "preferred_currency",
            "tax_exempt",
            "created_at",
            "erased_at",
        ]
        read_only_fields = fields


class StaffCustomerDetailSerializer(StaffCustomerSerializer):
    phone = serializers.CharField(read_only=True)

    class Meta(StaffCustomerSerializer.Meta):
        fields = [
            *StaffCustomerSerializer.Meta.fields,
            "address_line1",
            "address_line2",
            "city",
            "region",
            "postal_code",
            "phone",
            "tax_id",
            "credit_auto_apply",
            "updated_at",
        ]
        read_only_fields = fields


class StaffCustomerCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=200)
    company = serializers.CharField(max_length=200, required=False, default="")
    address_line1 = serializers.CharField(max_length=200, required=False, default="")
    address_line2 = serializers.CharField(max_length=200, required=False, default="")
    city = serializers.CharField(max_length=100, required=False, default="")
    region = serializers.CharField(max_length=100, required=False, default="")
    postal_code = serializers.CharField(max_length=20, required=False, default="")
    country = serializers.ChoiceField(choices=[code for code, _name in countries])
    tax_id = serializers.CharField(max_length=50, required=False, default="")
    preferred_currency = serializers.ChoiceField(
        choices=list(settings.CURRENCIES), required=False, default=settings.DEFAULT_CURRENCY
    )
    tax_exempt = serializers.BooleanField(required=False, default=False)
    credit_auto_apply = serializers.BooleanField(required=False, default=True)


# --- Invoices -------------------------------------------------------------------------------


class StaffInvoiceSerializer(InvoiceSerializer):
    class Meta(InvoiceSerializer.Meta):
        fields = [*InvoiceSerializer.Meta.fields, "customer", "created_at"]
        read_only_fields = fields


class StaffInvoiceDetailSerializer(InvoiceDetailSerializer):
    class Meta(InvoiceDetailSerializer.Meta):
        fields = [*InvoiceDetailSerializer.Meta.fields, "customer", "created_at"]
        read_only_fields = fields


class ManualLineSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=300)
    quantity = serializers.DecimalField(
        max_digits=14, decimal_places=4, min_value=Decimal("0.0001"), default=Decimal("1")
    )
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal(0))


class ManualInvoiceSerializer(serializers.Serializer):
    customer = serializers.IntegerField(**ID)
    currency = serializers.ChoiceField(choices=list(settings.CURRENCIES))
    lines = ManualLineSerializer(many=True, min_length=1, max_length=100)
    due_date = serializers.DateField(required=False, allow_null=True, default=None)
    notes = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)
    issue = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Issue at once (needs the permission to issue invoices); false: a draft.",
    )


class InvoiceCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)


class CreditNoteCreateSerializer(serializers.Serializer):
    amount = serializers.DecimalField(**AMOUNT, help_text="In the invoice's currency.")
    reason = serializers.CharField(**REASON)


class CreditNoteSerializer(serializers.ModelSerializer):
    amount = MoneyField()

    class Meta:
        model = CreditNote
        fields = ["id", "number", "invoice", "customer", "amount", "reason", "issued_at"]
        read_only_fields = fields


# --- Payments -------------------------------------------------------------------------------


class StaffPaymentSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    amount = MoneyField()
    fee = MoneyField()
    amount_refunded = MoneyField()

    class Meta:
        model = Payment
        fields = [
            "id",
            "invoice",
            "invoice_number",
            "customer",
            "gateway",
            "method",
            "reference",
            "status",
            "amount",
            "fee",
            "amount_refunded",
            "review_reason",
            "received_at",
            "created_at",
        ]
        read_only_fields = fields


MANUAL_METHODS = [
    Payment.Method.BANK_TRANSFER,
    Payment.Method.CHEQUE,
    Payment.Method.CASH,
    Payment.Method.OTHER,
]


class ManualPaymentSerializer(serializers.Serializer):
    invoice = serializers.IntegerField(**ID)
    amount = serializers.DecimalField(**AMOUNT, help_text="In the invoice's currency.")
    received_on = serializers.DateField(required=False, allow_null=True, default=None)
    method = serializers.ChoiceField(choices=[str(m) for m in MANUAL_METHODS])
    reference = serializers.CharField(
        max_length=200, help_text="Bank reference, cheque number or receipt number."
    )


class RefundSerializer(serializers.Serializer):
    to = serializers.ChoiceField(
        choices=["gateway", "credit"],
        help_text="gateway: back through the payment's provider; credit: to account credit.",
    )
    amount = serializers.DecimalField(**AMOUNT, help_text="In the payment's currency.")
    reason = serializers.CharField(**REASON)
    accept_shortfall = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Refund even if part of what the payment bought (credit, tokens) cannot be "
        "taken back; that part becomes a refund shortfall for staff.",
    )


class StaffCreditEntrySerializer(serializers.ModelSerializer):
    amount = MoneyField()
    balance_before = MoneyField()
    balance_after = MoneyField()
    staff_user = serializers.EmailField(
        source="staff_user.email", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = CreditEntry
        fields = [
            "id",
            "sequence",
            "kind",
            "currency",
            "amount",
            "balance_before",
            "balance_after",
            "description",
            "payment_reference",
            "staff_user",
            "reason",
            "created_at",
        ]
        read_only_fields = fields


class RefundOutputSerializer(serializers.Serializer):
    payment = StaffPaymentSerializer()
    credit_entry = StaffCreditEntrySerializer(
        allow_null=True, help_text="The credit added (refunds to credit only)."
    )


# --- Credit ---------------------------------------------------------------------------------


class CreditChangeSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=["add", "remove"])
    amount = serializers.DecimalField(**AMOUNT)
    currency = serializers.ChoiceField(choices=list(settings.CURRENCIES))
    reason = serializers.CharField(**REASON)


# --- Tokens ---------------------------------------------------------------------------------


class StaffTokenPurchaseSerializer(serializers.ModelSerializer):
    amount = MoneyField()

    class Meta:
        model = TokenPurchase
        fields = [
            "id",
            "customer",
            "source",
            "status",
            "tokens",
            "amount",
            "invoice",
            "virtfusion_credit_id",
            "reason",
            "resolution",
            "attempts",
            "last_error",
            "created_at",
            "delivered_at",
        ]
        read_only_fields = fields


class TokenGrantSerializer(serializers.Serializer):
    customer = serializers.IntegerField(**ID)
    tokens = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    reason = serializers.CharField(**REASON)


class TokenCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(**REASON)


# --- Operations -----------------------------------------------------------------------------


class StaffOperationSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProvisioningOperation
        fields = [
            "id",
            "service",
            "kind",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "resolution",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


# --- Usage ----------------------------------------------------------------------------------


class UsageRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = UsageRecord
        fields = ["id", "service", "metric", "quantity", "recorded_at"]
        read_only_fields = fields


class UsageRecordCreateSerializer(serializers.Serializer):
    metric = serializers.RegexField(
        r"^[a-z][a-z0-9_]{0,49}$",
        max_length=50,
        help_text="e.g. call_minutes or seats: lower-case letters, digits and underscores.",
    )
    quantity = serializers.DecimalField(
        max_digits=14, decimal_places=4, min_value=Decimal(0), max_value=Decimal("9999999999")
    )
    recorded_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Empty: now."
    )
