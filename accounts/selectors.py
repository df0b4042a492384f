"""Account reads for views and the API, always scoped by the caller."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import ApiKey, Customer, User
from billing_portal.common.audit import AuditEvent


def customer_get_for_user(*, user: User) -> Customer | None:
    return Customer.objects.filter(user=user).select_related("user").first()


def audit_event_list_for_customer(*, customer: Customer) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.filter(customer=customer).select_related("actor")
    return events.order_by("-created_at", "-id")


def api_key_list_for_user(*, user: User) -> QuerySet[ApiKey]:
    """The user's API keys, revoked ones too, newest first."""
    return ApiKey.objects.filter(user=user).order_by("-created_at", "-id")


def api_key_get_for_user(*, user: User, api_key_id: int) -> ApiKey:
    """One of the user's own keys; ApiKey.DoesNotExist for anyone else's."""
    return api_key_list_for_user(user=user).get(pk=api_key_id)
