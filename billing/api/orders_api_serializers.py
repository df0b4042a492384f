"""Shapes of the ordering endpoints (billing/api/orders_api.py): the catalogue, a cart to
price or order, the priced cart and the placed order. Which configurations can be ordered
is the ordering service's rule (billing/services/ordering.py)."""

from __future__ import annotations

from rest_framework import serializers

from billing.api.serializers import InvoiceSerializer, MoneyField
from catalogue.models import BillingCycle, Order, Product

MAX_ID = 2**63 - 1


class OptionPriceSerializer(serializers.Serializer):
    cycle = serializers.ChoiceField(choices=BillingCycle.choices)
    unit_price = MoneyField()
    setup_fee = MoneyField()


class OptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    unit_label = serializers.CharField()
    min_quantity = serializers.IntegerField()
    max_quantity = serializers.IntegerField()
    prices = OptionPriceSerializer(many=True)


class PriceSerializer(serializers.Serializer):
    cycle = serializers.ChoiceField(choices=BillingCycle.choices)
    price = MoneyField()
    setup_fee = MoneyField()


class ProductSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.SlugField(help_text="What an order names as `product`.")
    name = serializers.CharField()
    group = serializers.CharField(source="group.name")
    kind = serializers.ChoiceField(choices=Product.Kind.choices)
    description = serializers.CharField()
    requires_domain = serializers.BooleanField()
    requires_hostname = serializers.BooleanField()
    trial_days = serializers.IntegerField(
        help_text="Free days on a customer's first order of it (once per customer and card); "
        "0: no trial. The quote tells whether an order would get them."
    )
    prices = PriceSerializer(many=True)
    options = OptionSerializer(many=True)


class CatalogueSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="The account's currency: orders are in it.")
    products = ProductSerializer(many=True)


class CartInput(serializers.Serializer):
    product = serializers.SlugField(max_length=50, help_text="A product's slug.")
    cycle = serializers.ChoiceField(
        choices=BillingCycle.choices,
        error_messages={"invalid_choice": "Choose one of the product's billing cycles."},
    )
    options = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=2**31 - 1),
        required=False,
        default=dict,
        help_text="Quantity by option id; an option left out has its minimum.",
    )
    coupon_code = serializers.CharField(required=False, default="", allow_blank=True, max_length=40)
    domain = serializers.CharField(required=False, default="", allow_blank=True, max_length=253)
    hostname = serializers.CharField(required=False, default="", allow_blank=True, max_length=253)

    def validate_options(self, value: dict[str, int]) -> dict[int, int]:
        quantities = {}
        for key, quantity in value.items():
            if not (key.isascii() and key.isdigit() and 0 < int(key) <= MAX_ID):
                raise serializers.ValidationError(
                    "An option you chose does not belong to this product."
                )
            quantities[int(key)] = quantity
        return quantities


class QuoteLineSerializer(serializers.Serializer):
    kind = serializers.CharField()
    description = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=2)
    unit_price = MoneyField()
    period_start = serializers.DateField(allow_null=True)
    period_end = serializers.DateField(allow_null=True)
    amount = MoneyField()
    discount = MoneyField()
    tax = MoneyField()
    total = MoneyField()


class QuoteSerializer(serializers.Serializer):
    product = serializers.SlugField()
    cycle = serializers.ChoiceField(choices=BillingCycle.choices)
    lines = QuoteLineSerializer(many=True)
    subtotal = MoneyField()
    discount_total = MoneyField()
    tax_total = MoneyField()
    total = MoneyField(help_text="The first invoice's total.")
    tax_name = serializers.CharField()
    tax_rate = serializers.DecimalField(max_digits=6, decimal_places=3)
    coupon = serializers.CharField(allow_null=True)
    recurring_amount = MoneyField(help_text="List price per cycle, before discounts.")
    recurring_total = MoneyField(
        allow_null=True, help_text="Each renewal with tax; null: a one-time product."
    )
    domain = serializers.CharField()
    hostname = serializers.CharField()
    trial_days = serializers.IntegerField(help_text="Free days this order starts; 0: no trial.")
    trial_ends_on = serializers.DateField(
        allow_null=True, help_text="The trial's last free day; the first invoice is due after."
    )
    trial_text = serializers.CharField(
        help_text='For a trial, e.g. "14 days free, then $10.00 per month"; else empty.'
    )


class OrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Order.Status.choices)
    created_at = serializers.DateTimeField()
    services = serializers.ListField(child=serializers.IntegerField())
    invoice = InvoiceSerializer(allow_null=True, help_text="The order's invoice, to pay.")
