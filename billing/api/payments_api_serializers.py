"""Input and output serializers of the customer's payment endpoints (billing/api/
payments_api.py): shapes only; every rule is the services'."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from billing.api.serializers import InvoiceSerializer, MoneyField, MoneySerializer
from credits.models import CreditEntry
from payments.gateways.registry import CHECKOUT_LABELS
from payments.models import GatewaySubscription, Payment, PaymentAttempt, SavedPaymentMethod

# The gateways a customer may name (whether each is on now is the service's to say).
CHECKOUT_GATEWAYS = list(CHECKOUT_LABELS)


# --- input ----------------------------------------------------------------------------------


class PaymentStartInput(serializers.Serializer):
    gateway = serializers.ChoiceField(
        choices=CHECKOUT_GATEWAYS,
        help_text="The payment provider: the answer sends the customer to its page.",
    )


class CreditPurchaseInput(serializers.Serializer):
    amount = serializers.CharField(
        max_length=20,
        help_text=(
            "The credit to buy, in the account's preferred currency, such as 10 or 12.50: "
            f"from {settings.CREDITS_PURCHASE_MIN} to {settings.CREDITS_PURCHASE_MAX}."
        ),
    )
    gateway = serializers.ChoiceField(choices=CHECKOUT_GATEWAYS)


# --- output ---------------------------------------------------------------------------------


class PaymentSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", allow_null=True)
    amount = MoneyField()
    amount_refunded = MoneyField()

    class Meta:
        model = Payment
        fields = [
            "id",
            "invoice",
            "invoice_number",
            "gateway",
            "method",
            "status",
            "amount",
            "amount_refunded",
            "received_at",
        ]
        read_only_fields = fields


class PaymentDetailSerializer(PaymentSerializer):
    class Meta(PaymentSerializer.Meta):
        fields = [*PaymentSerializer.Meta.fields, "reference"]
        read_only_fields = fields


class CheckoutSerializer(serializers.ModelSerializer):
    """A payment started at a provider (hosted checkout): its id is what
    `POST /payments/{checkout_id}/capture/` confirms."""

    amount = MoneyField()

    class Meta:
        model = PaymentAttempt
        fields = ["id", "invoice", "gateway", "status", "reference", "amount", "created_at"]
        read_only_fields = fields


class CheckoutStartedSerializer(serializers.Serializer):
    checkout = CheckoutSerializer()
    redirect_url = serializers.URLField(
        help_text=(
            "Send the customer here to approve the payment (the provider's approval or "
            "hosted checkout page); then capture the checkout."
        )
    )


class CheckoutCapturedSerializer(serializers.Serializer):
    paid = serializers.BooleanField(help_text="Whether the provider took the payment.")
    checkout = CheckoutSerializer()
    invoice = InvoiceSerializer()


class CreditPurchaseStartedSerializer(CheckoutStartedSerializer):
    invoice = InvoiceSerializer()


class CreditPurchaseCapturedSerializer(CheckoutCapturedSerializer):
    credit = MoneySerializer(help_text="The account credit in the purchase's currency now.")


class SavedMethodSerializer(serializers.ModelSerializer):
    class Meta:
        model = SavedPaymentMethod
        fields = [
            "id",
            "gateway",
            "brand",
            "last4",
            "exp_month",
            "exp_year",
            "is_default",
            "created_at",
        ]
        read_only_fields = fields


class CardSetupSerializer(serializers.ModelSerializer):
    class Meta:
        model = PaymentAttempt
        fields = ["id", "gateway", "status", "reference", "created_at"]
        read_only_fields = fields


class CardSetupStartedSerializer(serializers.Serializer):
    setup = CardSetupSerializer()
    redirect_url = serializers.URLField(
        help_text="Send the customer here to save a card; then complete the set-up."
    )


class CardSetupCompletedSerializer(serializers.Serializer):
    saved = serializers.BooleanField(help_text="Whether the customer finished saving the card.")
    method = SavedMethodSerializer(allow_null=True)


class SubscriptionSerializer(serializers.ModelSerializer):
    amount = MoneyField(source="plan.amount")
    cycle = serializers.CharField(source="plan.cycle")

    class Meta:
        model = GatewaySubscription
        fields = [
            "id",
            "service",
            "gateway",
            "status",
            "reference",
            "amount",
            "cycle",
            "created_at",
            "activated_at",
            "cancelled_at",
        ]
        read_only_fields = fields


class SubscriptionStartedSerializer(serializers.Serializer):
    subscription = SubscriptionSerializer()
    redirect_url = serializers.URLField(
        help_text="Send the customer here to approve automatic payments of the renewals."
    )


class LedgerEntrySerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display")
    amount = MoneyField()
    balance_after = MoneyField()

    class Meta:
        model = CreditEntry
        fields = [
            "id",
            "kind",
            "kind_display",
            "description",
            "amount",
            "balance_after",
            "payment_reference",
            "created_at",
        ]
        read_only_fields = fields
