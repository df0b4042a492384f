"""Output serializers shared by the API views (money as a decimal string with its currency
and the amount as customers read it)."""

from __future__ import annotations

from typing import Any

from djmoney.money import Money
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from invoices.models import Invoice, InvoiceLine
from provisioning.models import Service


class MoneySerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField(min_length=3, max_length=3)
    formatted = serializers.CharField(help_text="As shown to customers, e.g. $10.00.")


@extend_schema_field(MoneySerializer)
class MoneyField(serializers.Field):
    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Money) -> dict[str, str]:
        return money_data(value)


def money_data(value: Money) -> dict[str, str]:
    return {
        "amount": f"{value.amount:.2f}",
        "currency": str(value.currency),
        "formatted": str(value),
    }


class ServiceSerializer(serializers.ModelSerializer):
    product = serializers.CharField(source="product.name")
    recurring_amount = MoneyField()

    class Meta:
        model = Service
        fields = [
            "id",
            "product",
            "status",
            "cycle",
            "recurring_amount",
            "domain",
            "hostname",
            "next_due_date",
            "ends_on",
            "created_at",
            "activated_at",
            "suspended_at",
            "terminated_at",
            "cancelled_at",
        ]
        read_only_fields = fields


class ServiceDetailSerializer(ServiceSerializer):
    # Not a `uri` in the schema: it is empty until the panel has given one.
    panel_url = serializers.CharField(
        read_only=True, help_text="The control panel's address; empty until the panel gives one."
    )

    class Meta(ServiceSerializer.Meta):
        fields = [*ServiceSerializer.Meta.fields, "username", "panel_url"]
        read_only_fields = fields


class InvoiceSerializer(serializers.ModelSerializer):
    subtotal = MoneyField()
    discount_total = MoneyField()
    tax_total = MoneyField()
    total = MoneyField()
    amount_paid = MoneyField()
    amount_refunded = MoneyField()
    amount_due = MoneyField()

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "kind",
            "status",
            "subtotal",
            "discount_total",
            "tax_total",
            "total",
            "amount_paid",
            "amount_refunded",
            "amount_due",
            "due_date",
            "issued_at",
            "paid_at",
            "cancelled_at",
        ]
        read_only_fields = fields


class InvoiceLineSerializer(serializers.ModelSerializer):
    unit_price = MoneyField()
    amount = MoneyField()
    discount = MoneyField()
    tax = MoneyField()
    total = MoneyField()

    class Meta:
        model = InvoiceLine
        fields = [
            "kind",
            "description",
            "service",
            "period_start",
            "period_end",
            "quantity",
            "unit_price",
            "amount",
            "discount",
            "tax",
            "total",
        ]
        read_only_fields = fields


class InvoiceDetailSerializer(InvoiceSerializer):
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta(InvoiceSerializer.Meta):
        fields = [*InvoiceSerializer.Meta.fields, "tax_name", "tax_rate", "notes", "lines"]
        read_only_fields = fields
