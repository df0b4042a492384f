"""Shapes of the DNS endpoints (billing/api/dns_api.py). Names, types, TTLs and contents are
passed as sent: their rules and messages are dnszones.validation's, as on the DNS page."""

from __future__ import annotations

from rest_framework import serializers

from billing.api.serializers import MoneyField
from dnszones.models import Record, Zone
from provisioning.models import Service


class PlanSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    description = serializers.CharField()
    price = MoneyField(help_text="Per month.")
    domain_limit = serializers.IntegerField()
    record_limit = serializers.IntegerField(help_text="Records per zone.")


class PlanQuoteSerializer(serializers.Serializer):
    plan = PlanSerializer()
    from_plan = serializers.CharField(
        source="from_plan.name", allow_null=True, help_text="The plan switched from; null: none."
    )
    amount = MoneyField(
        help_text="Invoiced now (paid from credit when it covers it); negative: credited."
    )
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    renews_on = serializers.DateField(allow_null=True)


class AllowanceSerializer(serializers.Serializer):
    plan_name = serializers.CharField()
    domain_limit = serializers.IntegerField()
    record_limit = serializers.IntegerField()
    serving = serializers.BooleanField(help_text="False: the zones are off the server.")


class DnsServiceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    plan = serializers.CharField(source="product.name")
    status = serializers.ChoiceField(choices=Service.Status.choices)
    next_due_date = serializers.DateField(allow_null=True)
    ends_on = serializers.DateField(allow_null=True)


class DnsSubscriptionSerializer(serializers.Serializer):
    service = DnsServiceSerializer(allow_null=True, help_text="The plan held; null: none.")
    allowance = AllowanceSerializer(allow_null=True)
    unpaid_invoice = serializers.IntegerField(allow_null=True)
    nameservers = serializers.ListField(child=serializers.CharField())


class SubscribeInput(serializers.Serializer):
    plan = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="The quote's amount you agree to: a changed price is refused.",
    )


class SubscribeOutput(serializers.Serializer):
    detail = serializers.CharField()
    invoice = serializers.IntegerField(allow_null=True, help_text="Null: nothing invoiced.")
    invoice_status = serializers.CharField(allow_null=True)


class CancelOutput(serializers.Serializer):
    detail = serializers.CharField()
    ends_on = serializers.DateField()


class ZoneSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="ASCII (punycode), no trailing dot.")
    display_name = serializers.CharField()
    status = serializers.ChoiceField(choices=Zone.Status.choices)
    serial = serializers.IntegerField()
    record_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class ZoneInput(serializers.Serializer):
    name = serializers.CharField(max_length=300)
    apex = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=100,
        help_text="An IPv4 address for the apex A record (optional).",
    )


class RecordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=Record.Type.choices)
    ttl = serializers.IntegerField()
    content = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class RecordInput(serializers.Serializer):
    name = serializers.CharField(max_length=300, allow_blank=True, help_text='"@": the apex.')
    type = serializers.CharField(max_length=10, help_text=", ".join(Record.Type.values))
    ttl = serializers.CharField(max_length=20, help_text="Seconds (a number or its text).")
    content = serializers.CharField(max_length=4200, allow_blank=True)
