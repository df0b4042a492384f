"""Query filters of the payment and ledger lists (django-filter): status or kind, and dates."""

from __future__ import annotations

import django_filters

from credits.models import CreditEntry
from payments.models import GatewaySubscription, Payment


class PaymentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Payment.Status.choices)
    received_after = django_filters.DateFilter(field_name="received_at", lookup_expr="date__gte")
    received_before = django_filters.DateFilter(field_name="received_at", lookup_expr="date__lte")

    class Meta:
        model = Payment
        fields = ["status"]


class LedgerFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=CreditEntry.Kind.choices)
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")

    class Meta:
        model = CreditEntry
        fields = ["kind"]


class SubscriptionFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=GatewaySubscription.Status.choices)

    class Meta:
        model = GatewaySubscription
        fields = ["status"]
