"""Account reads for views and the API, always scoped by the caller."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Customer, User
from billing_portal.common.audit import AuditEvent


def customer_get_for_user(*, user: User) -> Customer | None:
    return Customer.objects.filter(user=user).select_related("user").first()


def audit_event_list_for_customer(*, customer: Customer) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.filter(customer=customer).select_related("actor")
    return events.order_by("-created_at", "-id")
