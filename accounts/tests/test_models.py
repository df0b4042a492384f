"""Database-level rules of the accounts models, checked by bypassing the ORM's helpers."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from accounts.models import AuditAction, AuditEvent, User
from accounts.tests.factories import AuditEventFactory

pytestmark = pytest.mark.django_db


def test_manager_normalises_email_and_lookup_ignores_case():
    user = User.objects.create_user(email="  Mixed@Example.COM ", password="x")
    assert user.email == "mixed@example.com"
    assert User.objects.get_by_natural_key("MIXED@example.com") == user


def test_superuser_is_staff_and_verified():
    admin = User.objects.create_superuser(email="root@example.com", password="x")
    assert admin.is_staff
    assert admin.is_superuser
    assert admin.is_email_verified


def test_database_refuses_upper_case_email():
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.bulk_create([User(email="Upper@example.com")])


def test_database_refuses_an_action_outside_the_enum():
    event = AuditEventFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="account.hacked")


def test_audit_actions_cover_services_payments_and_account_events():
    required = {
        "SERVICE_PROVISIONED",
        "SERVICE_PROVISION_FAILED",
        "SERVICE_SUSPENDED",
        "SERVICE_UNSUSPENDED",
        "SERVICE_TERMINATED",
        "PAYMENT_RECEIVED",
        "PAYMENT_REFUNDED",
        "PAYMENT_DENIED",
        "ACCOUNT_REGISTERED",
        "EMAIL_VERIFIED",
        "LOGIN",
        "LOGIN_FAILED",
        "PASSWORD_CHANGED",
        "PROFILE_CHANGED",
    }
    assert required <= set(AuditAction.names)


def test_audit_record_freezes_actor_target_and_request(customer):
    from accounts.services import audit_record
    from billing_portal.common.request import RequestMeta

    event = audit_record(
        action=AuditAction.PROFILE_CHANGED,
        actor=customer.user,
        customer=customer,
        target=customer,
        meta=RequestMeta(ip_address="2001:db8::1", user_agent="agent/1"),
        details={"fields": ["city"]},
    )
    event.refresh_from_db()
    assert event.actor_label == customer.user.email
    assert (event.object_type, event.object_id) == ("accounts.customer", str(customer.pk))
    assert event.ip_address == "2001:db8::1"
    assert event.user_agent == "agent/1"
    assert event.details == {"fields": ["city"]}
    assert event.created_at.utcoffset().total_seconds() == 0
