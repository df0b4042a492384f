"""Account reads for views and the API, always scoped by the caller."""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from accounts.models import Customer, User, UserSession
from billing_portal.common.audit import AuditEvent


def customer_get_for_user(*, user: User) -> Customer | None:
    return Customer.objects.filter(user=user).select_related("user").first()


def audit_event_list_for_customer(*, customer: Customer) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.filter(customer=customer).select_related("actor")
    return events.order_by("-created_at", "-id")


def user_session_list_for_user(*, user: User) -> QuerySet[UserSession]:
    """The user's signed-in sessions, most recently used first: only those whose Django
    session is still there and unexpired (a row outlives its session until housekeeping)."""
    live = Session.objects.filter(
        session_key=OuterRef("session_key"), expire_date__gt=timezone.now()
    )
    return UserSession.objects.filter(Exists(live), user=user).order_by("-last_seen_at", "-id")
