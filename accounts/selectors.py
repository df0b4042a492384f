"""Account reads for views and the API, always scoped by the caller."""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from accounts.models import ApiKey, Customer, StaffNote, User, UserSession
from billing_portal.common.audit import AuditEvent

# Audit namespaces about staff work a customer never sees in their activity log.
STAFF_ONLY_AUDIT_NAMESPACES = ("staff_note",)


def customer_get_for_user(*, user: User) -> Customer | None:
    return Customer.objects.filter(user=user).select_related("user").first()


def audit_event_list_for_customer(*, customer: Customer) -> QuerySet[AuditEvent]:
    """The customer's own activity log (client area): their events less staff-only ones."""
    events = audit_events_about_customer(customer=customer)
    for namespace in STAFF_ONLY_AUDIT_NAMESPACES:
        events = events.exclude(action__startswith=f"{namespace}.")
    return events


def audit_events_about_customer(*, customer: Customer) -> QuerySet[AuditEvent]:
    """Every event about the customer, staff-only ones too: for staff screens only."""
    events = AuditEvent.objects.filter(customer=customer).select_related("actor")
    return events.order_by("-created_at", "-id")


def staff_notes_for_customer(*, customer: Customer) -> QuerySet[StaffNote]:
    """Staff notes on the customer, pinned first, then newest first: for staff screens only."""
    notes = StaffNote.objects.filter(customer=customer).select_related("author")
    return notes.order_by("-pinned", "-created_at", "-id")


def user_session_list_for_user(*, user: User) -> QuerySet[UserSession]:
    """The user's signed-in sessions, most recently used first: only those whose Django
    session is still there and unexpired (a row outlives its session until housekeeping)."""
    live = Session.objects.filter(
        session_key=OuterRef("session_key"), expire_date__gt=timezone.now()
    )
    return UserSession.objects.filter(Exists(live), user=user).order_by("-last_seen_at", "-id")


def api_key_list_for_user(*, user: User) -> QuerySet[ApiKey]:
    """The user's API keys, revoked ones too, newest first."""
    return ApiKey.objects.filter(user=user).order_by("-created_at", "-id")


def api_key_get_for_user(*, user: User, api_key_id: int) -> ApiKey:
    """One of the user's own keys; ApiKey.DoesNotExist for anyone else's."""
    return api_key_list_for_user(user=user).get(pk=api_key_id)


# --- Staff (the staff API; the role's permission is the caller's to check) -------------------


def customer_list_for_staff() -> QuerySet[Customer]:
    """Every customer, by name (then id: names repeat), on the (name, id) index."""
    return Customer.objects.select_related("user").order_by("name", "id")


def customer_get_for_staff(*, customer_id: int) -> Customer:
    """One customer; Customer.DoesNotExist for an unknown id."""
    return Customer.objects.select_related("user").get(pk=customer_id)
