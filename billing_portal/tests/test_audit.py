"""The kernel's audit log: each app declares its own actions, checked at start-up; the model
moved from accounts without losing a row; a new action needs no migration."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core import checks
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from accounts.audit import AccountAudit
from accounts.models import User
from accounts.tests.factories import AuditEventFactory, CustomerFactory
from billing_portal.common.audit import (
    AuditActions,
    AuditEvent,
    AuditRegistry,
    UndeclaredAuditAction,
    audit_actions,
    audit_record,
)
from billing_portal.common.request import RequestMeta

# Every action stored before the move, with the app that now owns it: values never change.
STORED_ACTIONS = {
    "accounts": [
        "account.registered",
        "account.email_verified",
        "account.login",
        "account.login_failed",
        "account.login_locked_out",
        "account.logout",
        "account.password_changed",
        "account.password_reset_requested",
        "account.profile_changed",
        "account.second_factor_enabled",
        "account.second_factor_removed",
        "account.recovery_codes_generated",
        "account.recovery_code_used",
        "staff_note.added",
        "staff_note.edited",
        "staff_note.pinned",
        "staff_note.unpinned",
        "staff_note.deleted",
        "account.data_export_requested",
        "account.data_export_ready",
        "account.data_export_failed",
        "account.data_export_downloaded",
        "account.erased",
        "account.session_ended",
        "account.email_change_requested",
        "account.email_changed",
        "account.acting_started",
        "account.acting_ended",
        "api_key.created",
        "api_key.revoked",
        "account.created_by_staff",
    ],
    "catalogue": [
        "order.placed",
        "order.cancelled",
    ],
    "invoices": [
        "invoice.issued",
        "invoice.credit_note_issued",
        "invoice.paid",
        "invoice.cancelled",
        "usage.recorded",
    ],
    "credits": [
        "credit.added",
        "credit.removed",
        "credit.purchased",
    ],
    # Moved from credits with the token purchase and refund flows (issue 13).
    "billing": [
        "tokens.added",
        "tokens.cancelled",
        "tokens.delivery_failed",
        "tokens.resolved",
        "tokens.removed",
        "refund.shortfall",
        "refund.shortfall_resolved",
    ],
    "provisioning": [
        "service.provisioned",
        "service.provision_failed",
        "service.suspended",
        "service.unsuspended",
        "service.terminated",
        "service.renewed",
        "service.cancelled",
        "service.plan_changed",
        "service.ending",
        "service.action_requested",
        "service.action_succeeded",
        "service.action_failed",
        "service.cancellation_requested",
        "service.cancellation_withdrawn",
        "service.cancellation_completed",
        "service.auto_backups_changed",
        "service.auto_backup_failed",
        "service.auto_backup_retried",
        "service.secret_changed",
        "server.created",
        "server.changed",
        "server.deleted",
    ],
    "dns": [
        "dns.plan_bought",
        "dns.plan_cancelled",
        "dns.zone_created",
        "dns.zone_deleted",
        "dns.records_changed",
    ],
    "payments": [
        "payment.received",
        "payment.held",
        "payment.refunded",
        "payment.denied",
        "payment.card_charge_failed",
        "payment.card_expiry_notice",
    ],
    "support": [
        "ticket.opened",
        "ticket.replied",
        "ticket.note_added",
        "ticket.closed",
        "ticket.reopened",
        "ticket.auto_closed",
        "ticket.close_notice_sent",
        "ticket.overdue_alerted",
        "ticket.status_changed",
        "ticket.assigned",
        "ticket.moved",
        "ticket.priority_changed",
        "ticket.merged",
        "ticket.email_refused",
        "announcement.email_started",
        "announcement.emailed",
        "announcement.unsubscribed",
        "announcement.resubscribed",
    ],
    "common": [
        "webhook.endpoint_created",
        "webhook.endpoint_changed",
        "webhook.endpoint_deleted",
        "webhook.secret_rotated",
        "webhook.delivery_resent",
        "email_override.saved",
        "email_override.deleted",
        "email_override.test_sent",
    ],
    "reports": [
        "report_export.requested",
        "report_export.ready",
        "report_export.failed",
        "report_export.downloaded",
    ],
}
# Client groups (issue 20): the catalogue's.
STORED_ACTIONS["catalogue"].append("client_group.customer_changed")


# --- Declarations and the system check ----------------------------------------------------


def test_every_stored_action_is_declared_once_by_the_app_owning_its_namespace():
    declared = {d.value: d.app_label for d in audit_actions.declarations()}
    expected = {value: app for app, values in STORED_ACTIONS.items() for value in values}
    assert declared == expected
    assert len(audit_actions.declarations()) == len(expected)
    assert audit_actions.label("invoice.paid") == "Invoice paid"


def test_the_portal_passes_its_own_audit_check():
    assert audit_actions.problems() == []
    assert any(c.__name__ == "audit_action_check" for c in checks.registry.registry.get_checks())
    call_command("check", tags=["audit"])  # raises SystemCheckError on any error


def _registry(*declarations: tuple[str, type[AuditActions]]) -> AuditRegistry:
    registry = AuditRegistry(autodiscover=False)  # only what the test declares
    for app_label, actions in declarations:
        registry.register(app_label, actions)
    return registry


def _ids(registry: AuditRegistry) -> list[str]:
    return [message.id for message in registry.problems()]


class ShopAudit(AuditActions):
    ORDER_PLACED = "order.placed", "Order placed"


class OtherShopAudit(AuditActions):
    ORDER_PLACED = "order.placed", "Order placed again"


class OrderShippedAudit(AuditActions):
    ORDER_SHIPPED = "order.shipped", "Order shipped"


def test_check_refuses_an_action_declared_twice():
    # in one app (two classes) it is a duplicate action only
    assert _ids(_registry(("shop", ShopAudit), ("shop", OtherShopAudit))) == ["common.E102"]
    # in two apps the namespace is shared as well
    assert _ids(_registry(("shop", ShopAudit), ("billing", OtherShopAudit))) == [
        "common.E102",
        "common.E103",
    ]


def test_a_value_repeated_inside_one_class_is_refused_when_the_class_is_made():
    with pytest.raises(ValueError, match="duplicate values"):

        class Repeated(AuditActions):
            PLACED = "order.placed", "Order placed"
            ALSO_PLACED = "order.placed", "Order placed"


def test_check_refuses_a_namespace_claimed_by_two_apps():
    messages = _registry(("shop", ShopAudit), ("billing", OrderShippedAudit)).problems()
    assert [m.id for m in messages] == ["common.E103"]
    assert "'order'" in messages[0].msg
    assert "billing, shop" in messages[0].msg
    assert all(m.level == checks.ERROR for m in messages)


def test_check_refuses_malformed_values():
    class Malformed(AuditActions):
        NO_NAMESPACE = "placed", "Placed"
        UPPER_CASE = "order.Placed", "Placed"
        TWO_DOTS = "order.placed.twice", "Placed twice"
        SPACE = "order.placed now", "Placed now"
        GOOD = "order.placed", "Placed"

    messages = _registry(("shop", Malformed)).problems()
    assert [m.id for m in messages] == ["common.E101"] * 4
    assert "'order.Placed'" in messages[1].msg


def test_only_classes_an_apps_audit_module_defines_count():
    # accounts' audit.py declares AccountAudit, StaffNoteAudit and ApiKeyAudit; the base class
    # itself declares nothing
    accounts = [d for d in audit_actions.declarations() if d.app_label == "accounts"]
    assert {d.declared_in for d in accounts} == {
        "accounts.audit.AccountAudit",
        "accounts.audit.StaffNoteAudit",
        "accounts.audit.ApiKeyAudit",
    }
    # the kernel's own audit.py declares the outbound webhooks' and email overrides' actions
    common = [d for d in audit_actions.declarations() if d.app_label == "common"]
    assert {d.declared_in for d in common} == {
        "billing_portal.common.audit.WebhookAudit",
        "billing_portal.common.audit.EmailOverrideAudit",
    }


# --- Recording ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_audit_record_freezes_actor_target_and_request(customer):
    event = audit_record(
        action=AccountAudit.PROFILE_CHANGED,
        actor=customer.user,
        customer=customer,
        target=customer,
        meta=RequestMeta(ip_address="2001:db8::1", user_agent="agent/1"),
        details={"fields": ["city"]},
    )
    event.refresh_from_db()
    assert event.action == "account.profile_changed"
    assert event.get_action_display() == "Profile changed"
    assert event.actor_label == customer.user.email
    assert (event.object_type, event.object_id) == ("accounts.customer", str(customer.pk))
    assert event.ip_address == "2001:db8::1"
    assert event.user_agent == "agent/1"
    assert event.details == {"fields": ["city"]}
    assert event.created_at.utcoffset().total_seconds() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["account.logged_in", "invoice.payd", "hacked"])
def test_audit_record_refuses_an_undeclared_action(customer, action):
    with pytest.raises(UndeclaredAuditAction, match=action):
        audit_record(action=action, customer=customer)
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["hacked", "Account.login", "account.LOGIN"])
def test_database_refuses_a_malformed_action(action):
    event = AuditEventFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action=action)


@pytest.mark.django_db
def test_a_stored_action_no_app_declares_any_more_shows_its_value():
    event = AuditEventFactory()
    AuditEvent.objects.filter(pk=event.pk).update(action="legacy.thing")
    event.refresh_from_db()
    assert event.get_action_display() == "legacy.thing"


class SupportAudit(AuditActions):
    TICKET_OPENED = "support.ticket_opened", "Ticket opened"


@pytest.mark.django_db
def test_a_new_action_needs_no_migration(monkeypatch, customer):
    assert not AuditEvent._meta.get_field("action").choices
    # Declared as a new app would (restored after the test).
    monkeypatch.setattr(audit_actions, "_declarations", audit_actions.declarations())
    monkeypatch.setattr(audit_actions, "_labels", dict(audit_actions.choices()))
    audit_actions.register("support", SupportAudit)
    assert audit_actions.problems() == []

    event = audit_record(action=SupportAudit.TICKET_OPENED, customer=customer)
    event.refresh_from_db()
    assert event.get_action_display() == "Ticket opened"
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)  # exits 1 on changes


# --- The move from accounts ---------------------------------------------------------------

BEFORE_THE_MOVE = [("accounts", "0011_admin_list_indexes"), ("common", "0002_portal_backups")]


def _migrate(targets: list[tuple[str, str]] | None = None) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor


@pytest.mark.django_db(transaction=True)
def test_moving_the_model_to_the_kernel_keeps_rows_indexes_and_permissions():
    customer = CustomerFactory()
    auditor = User.objects.create_user(email="auditor@example.com", password="x", is_staff=True)
    auditor.user_permissions.add(Permission.objects.get(codename="view_auditevent"))

    executor = _migrate(BEFORE_THE_MOVE)
    old_apps = executor.loader.project_state(BEFORE_THE_MOVE).apps
    OldEvent = old_apps.get_model("accounts", "AuditEvent")
    assert OldEvent._meta.db_table == "accounts_auditevent"
    old = OldEvent.objects.create(
        action="invoice.paid",
        actor_id=customer.user_id,
        actor_label=customer.user.email,
        customer_id=customer.pk,
        object_type="invoices.invoice",
        object_id="7",
        ip_address="203.0.113.7",
        details={"total": "12.00"},
    )

    _migrate()

    event = AuditEvent.objects.get(pk=old.pk)
    assert (event.action, event.customer, event.actor) == ("invoice.paid", customer, customer.user)
    assert (event.object_type, event.object_id) == ("invoices.invoice", "7")
    assert event.details == {"total": "12.00"}
    assert event.get_action_display() == "Invoice paid"
    assert list(customer.audit_events.all()) == [event]
    with connection.cursor() as cursor:
        names = set(connection.introspection.get_constraints(cursor, "common_auditevent"))
        tables = connection.introspection.table_names(cursor)
    assert {"common_audit_customer_idx", "common_audit_object_idx"} <= names
    assert "common_auditevent_action_format" in names
    assert "accounts_auditevent_action_valid" not in names
    assert "accounts_auditevent" not in tables
    # The content type followed the model, so the permission granted before still holds.
    ContentType.objects.clear_cache()
    assert ContentType.objects.get_for_model(AuditEvent).app_label == "common"
    assert not ContentType.objects.filter(app_label="accounts", model="auditevent").exists()
    assert User.objects.get(pk=auditor.pk).has_perm("common.view_auditevent")
    # and new rows go on from the old ones' ids
    assert audit_record(action=AccountAudit.LOGIN, customer=customer).pk > old.pk
