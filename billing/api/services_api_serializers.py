"""Input and output shapes of the service self-service endpoints (billing/api/services_api.py):
field shapes only; what a service may do is the services' rule."""

from __future__ import annotations

from rest_framework import serializers

from billing.api.serializers import MoneyField
from billing.models import ServiceChange
from provisioning.models import CancellationRequest, ProvisioningOperation

Op = ProvisioningOperation


class ActionSerializer(serializers.Serializer):
    """An action the service's page offers."""

    name = serializers.CharField()
    label = serializers.CharField()
    confirm = serializers.CharField(help_text="A word to send as `confirm`; empty: none needed.")
    repeatable = serializers.BooleanField()


class ActionInput(serializers.Serializer):
    params = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=2000),
        required=False,
        default=dict,
        help_text="The action's form fields, as its page sends them.",
    )
    confirm = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=200,
        help_text="The word a destructive action asks for.",
    )


class OperationSerializer(serializers.Serializer):
    """An action's state; `secret` (a new password) is given once, when it has succeeded."""

    id = serializers.IntegerField()
    service = serializers.IntegerField()
    label = serializers.CharField()
    status = serializers.ChoiceField(choices=Op.Status.choices)
    final = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    error = serializers.CharField(help_text="What went wrong, as customers may read it.")
    result = serializers.DictField(child=serializers.JSONField())
    secret = serializers.DictField(child=serializers.CharField())


class SiteDomainInput(serializers.Serializer):
    domain = serializers.CharField(max_length=253, help_text="A name in one of your zones here.")


class LoginLinkSerializer(serializers.Serializer):
    url = serializers.URLField()


class AutoBackupsInput(serializers.Serializer):
    enabled = serializers.BooleanField()


class AutoBackupsOutput(serializers.Serializer):
    enabled = serializers.BooleanField()
    detail = serializers.CharField()


class CancellationInput(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=CancellationRequest.Kind.choices,
        error_messages={"invalid_choice": "Choose when the service should end."},
    )
    reason = serializers.ChoiceField(
        choices=CancellationRequest.Reason.choices,
        error_messages={"invalid_choice": "Choose a reason for cancelling."},
    )
    reason_text = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=2000,
        error_messages={"max_length": "Keep the text under 2000 characters."},
    )


class CancellationQuoteInput(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=CancellationRequest.Kind.choices,
        error_messages={"invalid_choice": "Choose when the service should end."},
    )


class CancellationQuoteSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=CancellationRequest.Kind.choices)
    effective_on = serializers.DateField()
    refund = MoneyField(allow_null=True, help_text="Added to account credit; null: none.")
    days_left = serializers.IntegerField()
    days_in_period = serializers.IntegerField()
    unpaid_renewals = serializers.ListField(
        child=serializers.CharField(), help_text="Numbers of the invoices that are cancelled."
    )


class CancellationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    service = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=CancellationRequest.Kind.choices)
    status = serializers.ChoiceField(choices=CancellationRequest.Status.choices)
    effective_on = serializers.DateField(allow_null=True)
    refund = MoneyField(allow_null=True)
    detail = serializers.CharField()


class PlanChangeInput(serializers.Serializer):
    product = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        error_messages={"invalid": "Choose one of the plans shown."},
    )
    options = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=2**31 - 1),
        required=False,
        allow_null=True,
        default=None,
        help_text="Add-on quantities by option id; omitted: the plan's own.",
    )


class PlanChangeQuoteSerializer(serializers.Serializer):
    product = serializers.IntegerField(source="to_product.pk")
    name = serializers.CharField(source="to_product.name")
    is_upgrade = serializers.BooleanField()
    difference = MoneyField(help_text="Invoiced now (upgrade) or credited (negative).")
    new_recurring = MoneyField()


class PlanUnavailableSerializer(serializers.Serializer):
    product = serializers.IntegerField()
    name = serializers.CharField()
    detail = serializers.CharField()


class PlanChangeOptionsSerializer(serializers.Serializer):
    quotes = PlanChangeQuoteSerializer(many=True)
    unavailable = PlanUnavailableSerializer(many=True)
    problem = serializers.CharField(help_text="Why no plan can be chosen now; empty: none.")


class PlanChangeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    service = serializers.IntegerField()
    to_product = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ServiceChange.Status.choices)
    prorated_difference = MoneyField()
    invoice = serializers.IntegerField(
        allow_null=True, help_text="The invoice to pay (an upgrade)."
    )
    detail = serializers.CharField()
