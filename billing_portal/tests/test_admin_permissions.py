"""Staff permissions in the admin: every action and custom admin view needs the permission
for its effect, and a view-only staff user changes nothing anywhere.

The tables below declare, for every admin action and custom admin URL, the permission it
needs, how to make an object it has an effect on, and how to see that effect. The walk over
`admin.site._registry` fails for any action or URL that is not declared here, so a new one
cannot ship without a permission. Each declared one is then tried by three staff users:
view-only (every `view_*` permission: refused, nothing changes, no outbound call, its button
hidden), everything but its permission (refused), and view plus exactly its permission
(done, button shown).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.db.models import Model
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.models import StaffNote, User
from accounts.services import api_key_create
from accounts.tests.factories import (
    AuditEventFactory,
    CustomerFactory,
    StaffNoteFactory,
    UserFactory,
)
from billing import services as billing_services
from billing.models import BillingRun, RefundShortfall, TokenPurchase
from billing.services import payment_record
from billing_portal.common.models import (
    AuditEvent,
    EmailTemplateOverride,
    OutboxMessage,
    WebhookDelivery,
    WebhookEndpoint,
)
from billing_portal.common.testing import form_values, usd
from billing_portal.common.webhooks import webhook_endpoint_create
from catalogue.models import Order
from catalogue.tests.factories import (
    ClientGroupFactory,
    ConfigurableOptionFactory,
    CouponFactory,
    CustomerGroupFactory,
    ProductFactory,
    ProductGroupFactory,
    TaxRateFactory,
)
from credits.models import CreditAccount, CreditEntry
from credits.services import credit_entry_append
from dnszones.models import DnsAllowance, DnsOperation, Zone
from invoices import services as invoice_services
from invoices.models import Invoice, InvoiceNotice, UsageRecord
from payments.models import Payment, WebhookEvent
from provisioning.models import (
    AutomaticBackup,
    CancellationRequest,
    ProvisioningOperation,
    Server,
    Service,
    SitePlan,
)
from provisioning.tests.factories import (
    ServerFactory,
    ServerGroupFactory,
    service_on,
)
from support.models import (
    Announcement,
    Article,
    ArticleCategory,
    CannedResponse,
    Department,
    Ticket,
)
from support.tests.helpers import department, ticket_for

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-staff-password-42"
VIRTFUSION = "https://cp.example.test"
PDNS = "https://pdns.example.test"
STRIPE = "https://api.stripe.com/v1"


@dataclass
class Env:
    """What a case's callables share: mocked HTTP, settings, the object made and the
    response to the attempt."""

    mocked: Any
    settings: Any
    obj: Any = None
    extra: dict = field(default_factory=dict)
    response: HttpResponse | None = None


@dataclass(frozen=True)
class Case:
    permission: str  # "app_label.codename"
    setup: Callable[[Env], Model]  # an object the action or view has an effect on
    done: Callable[[Env], bool]  # whether the effect happened
    # custom URLs only:
    url: Callable[[Env], str] | None = None
    data: Callable[[Env], dict] = lambda env: {}
    method: str = "post"
    pages: Callable[[Env], list[str]] = lambda env: []  # admin pages showing its button


def fresh(obj: Model) -> Any:
    """The object as stored now (None once deleted)."""
    return type(obj)._base_manager.filter(pk=obj.pk).first()


def change_page(obj: Model) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def changelist(model: type[Model]) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


# --- objects ------------------------------------------------------------------------------


def _service(status: str = "active", *, on_panel: bool = True) -> Service:
    server = ServerFactory()
    service = service_on(
        server, customer=CustomerFactory(), status=status, next_due_date=date(2026, 5, 1)
    )
    if on_panel:
        service.external_id = f"sandbox-svc-{service.pk}"
        service.save(update_fields=["external_id"])
    return service


def _failed_operation() -> ProvisioningOperation:
    service = _service("failed", on_panel=False)
    return ProvisioningOperation.objects.create(
        service=service,
        kind="create",
        idempotency_key=f"service:{service.pk}:create:1",
        status="failed",
        attempts=12,
        last_error="The panel answered 504",
    )


def _cancellation() -> CancellationRequest:
    return billing_services.service_cancellation_request(
        customer=None, service_id=_service().pk, kind="end_of_period", reason="other"
    )


def _failed_automatic_backup() -> AutomaticBackup:
    return AutomaticBackup.objects.create(
        service=_service("active"),
        slot=date(2026, 5, 1),
        name="AUTO20260501-1",
        status="failed",
        attempts=4,
        last_error="The panel answered 504",
    )


def _draft() -> Invoice:
    line = invoice_services.LineDraft(kind="manual", description="Work", unit_price=usd("40"))
    return invoice_services.invoice_create_draft(
        customer=CustomerFactory(), currency="USD", lines=[line]
    )


def _unpaid() -> Invoice:
    return billing_services.invoice_issue(invoice_id=_draft().pk)


def _paid() -> Invoice:
    return billing_services.invoice_mark_paid(invoice_id=_unpaid().pk)


def _payment(gateway: str = "manual") -> Payment:
    invoice = _unpaid()
    return payment_record(
        invoice_id=invoice.pk, gateway=gateway, reference=f"pi_{invoice.pk}", amount=invoice.total
    )


def _credit_entry() -> CreditEntry:
    return credit_entry_append(
        customer=CustomerFactory(), amount=usd("5"), kind="admin_add", idempotency_key="k"
    )


def _token_purchase(status: str = "uncertain") -> TokenPurchase:
    return TokenPurchase.objects.create(
        customer=CustomerFactory(),
        source="staff",
        status=status,
        tokens=Decimal("500"),
        rate=Decimal("100"),
        currency="USD",
        amount=usd("0"),
        reason="Outage",
    )


def _webhook_event() -> WebhookEvent:
    n = WebhookEvent.objects.count()
    return WebhookEvent.objects.create(
        provider="stripe",
        event_id=f"evt_{n}",
        event_type="nothing.handles.this",
        body="{}",
        status="failed",
        attempts=8,
        error="KeyError: 'data'",
    )


def _zone() -> Zone:
    return Zone.objects.create(customer=CustomerFactory(), name=f"zone{Zone.objects.count()}.test")


def _axes_row(model: type[Model]) -> Model:
    extra = {"failures_since_start": 1} if model is AccessAttempt else {}
    row = model.objects.create(
        username="someone@example.com",
        ip_address="203.0.113.9",
        user_agent="test",
        path_info="/admin/login/",
        **extra,
    )
    # attempt_time is set on insert; an old attempt is one the cool-off has expired
    model.objects.filter(pk=row.pk).update(attempt_time=timezone.now() - timedelta(days=1))
    return row


def _shortfall() -> RefundShortfall:
    invoice = _paid()
    return RefundShortfall.objects.create(
        customer=invoice.customer,
        invoice=invoice,
        kind="credit",
        currency="USD",
        amount=usd("5"),
        description="The customer had spent it.",
    )


def _credit_note():
    invoice = _paid()
    return invoice_services.credit_note_issue(invoice_id=invoice.pk, amount=usd("1"), reason="x")


def _ticket(env: Env | None = None) -> Ticket:
    return ticket_for(CustomerFactory())


def _article() -> Article:
    number = Article.objects.count()
    category = ArticleCategory.objects.create(name=f"Guides {number}", slug=f"guides-{number}")
    return Article.objects.create(
        category=category, title="Uploading files", slug=f"upload-{number}", body="Use SFTP."
    )


def _ticket_pair(env: Env) -> Ticket:
    """A ticket and another of the same customer to merge it into."""
    ticket = _ticket()
    env.extra["into"] = ticket_for(ticket.customer, subject="The first report")
    return ticket


def _endpoint() -> WebhookEndpoint:
    return webhook_endpoint_create(
        name="CRM", url="https://hooks.example.com/billing", events=["invoice.paid"]
    )[0]


def _endpoint_with_secret(env: Env) -> WebhookEndpoint:
    endpoint = _endpoint()
    env.extra["secret"] = endpoint.secret
    return endpoint


def _failed_delivery() -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        endpoint=_endpoint(),
        event_id=uuid.uuid4(),
        event_type="invoice.paid",
        body="{}",
        idempotency_key=f"webhook:{uuid.uuid4()}",
        status="failed",
        attempts=30,
        retry_until=timezone.now(),
        last_error="The endpoint answered 500.",
    )


def _override() -> EmailTemplateOverride:
    return EmailTemplateOverride.objects.create(
        name="invoice_reminder",
        subject="Reminder: {{ number }}",
        text="Hello {{ customer_name }}",
        html="<p>Hello {{ customer_name }}</p>",
    )


# One object per registered admin (for the change/add/delete walk and "delete selected").
OBJECTS: dict[str, Callable[[], Model]] = {
    "auth.Group": lambda: Group.objects.create(name="Night shift"),  # not one of the roles
    "common.OutboxMessage": lambda: OutboxMessage.objects.create(
        task_name="accounts.login_logs_prune", last_error="OperationalError: refused"
    ),
    "axes.AccessAttempt": lambda: _axes_row(AccessAttempt),
    "axes.AccessLog": lambda: _axes_row(AccessLog),
    "axes.AccessFailureLog": lambda: _axes_row(AccessFailureLog),
    "accounts.User": UserFactory,
    "accounts.Customer": CustomerFactory,
    "accounts.StaffNote": StaffNoteFactory,
    "accounts.ApiKey": lambda: (
        api_key_create(user=UserFactory(), name="Integration", scopes=["read"]).api_key
    ),
    "common.AuditEvent": AuditEventFactory,
    "catalogue.ProductGroup": ProductGroupFactory,
    "catalogue.Product": ProductFactory,
    "catalogue.ConfigurableOption": ConfigurableOptionFactory,
    "catalogue.Coupon": CouponFactory,
    "catalogue.TaxRate": TaxRateFactory,
    "catalogue.Order": lambda: Order.objects.create(customer=CustomerFactory()),
    "invoices.Invoice": _unpaid,
    "billing.BillingRun": lambda: BillingRun.objects.create(as_of=date(2026, 1, 1)),
    "invoices.InvoiceNotice": lambda: InvoiceNotice.objects.create(invoice=_unpaid(), kind="due"),
    "invoices.UsageRecord": lambda: UsageRecord.objects.create(
        service=_service(), metric="bandwidth_gb", quantity=Decimal("3")
    ),
    "invoices.CreditNote": _credit_note,
    "payments.Payment": _payment,
    "payments.WebhookEvent": _webhook_event,
    "credits.CreditAccount": lambda: _credit_entry().account,
    "credits.CreditEntry": _credit_entry,
    "billing.TokenPurchase": _token_purchase,
    "billing.RefundShortfall": _shortfall,
    "provisioning.SitePlan": lambda: SitePlan.objects.create(
        name="tiny", memory_gb=1, disk_gb=5, backups=1, domains=1
    ),
    "provisioning.ServerGroup": ServerGroupFactory,
    "provisioning.Server": ServerFactory,
    "provisioning.Service": _service,
    "provisioning.ProvisioningOperation": _failed_operation,
    "provisioning.CancellationRequest": _cancellation,
    "provisioning.AutomaticBackup": _failed_automatic_backup,
    "dns.DnsAllowance": lambda: DnsAllowance.objects.create(
        customer=CustomerFactory(),
        service_ref="svc-1",
        plan_name="Tiny",
        domain_limit=1,
        record_limit=5,
    ),
    "dns.Zone": _zone,
    "dns.DnsOperation": lambda: DnsOperation.objects.create(
        zone_name="example.test", kind="create_zone", idempotency_key="z:1", status="failed"
    ),
    "support.Department": lambda: Department.objects.create(
        name=f"Department {Department.objects.count()}", email="desk@example.com"
    ),
    "support.CannedResponse": lambda: CannedResponse.objects.create(title="Hi", body="Hello"),
    "support.Ticket": _ticket,
    "support.ArticleCategory": lambda: ArticleCategory.objects.create(
        name=f"Category {ArticleCategory.objects.count()}",
        slug=f"category-{ArticleCategory.objects.count()}",
    ),
    "support.Article": _article,
    "support.Announcement": lambda: Announcement.objects.create(
        title="Maintenance", body="Sunday night."
    ),
    "common.WebhookEndpoint": lambda: _endpoint(),
    "common.WebhookDelivery": lambda: _failed_delivery(),
    "catalogue.ClientGroup": ClientGroupFactory,
    "catalogue.CustomerGroup": CustomerGroupFactory,
    "common.EmailTemplateOverride": lambda: _override(),
}

# Admins that do not offer deleting (and why); every other admin's delete must work.
UNDELETABLE = {
    "accounts.ApiKey": "revoked, never deleted: the audit log points at it",
    "common.OutboxMessage": "the record of queued work and of emails sent (not sent twice)",
    "common.AuditEvent": "the audit log is evidence",
    "catalogue.Order": "its invoices and services point at it (PROTECT)",
    "invoices.Invoice": "a numbered document; lines, payments and credit notes PROTECT it",
    "billing.BillingRun": "the record of what a billing run did",
    "invoices.InvoiceNotice": "the once-per-kind guard of reminders and late fees",
    "invoices.CreditNote": "a numbered document",
    "payments.Payment": "money received; refund requests PROTECT it",
    "payments.WebhookEvent": "the provider's delivery, kept so a redelivery is not run twice",
    "credits.CreditAccount": "its ledger entries PROTECT it",
    "credits.CreditEntry": "the ledger is append-only (a database trigger refuses DELETE)",
    "billing.TokenPurchase": "the record that stops tokens being sent twice",
    "billing.RefundShortfall": "what a refund could not take back; it ends by being resolved",
    "provisioning.Service": "its invoice lines and operations PROTECT it; it ends by terminate",
    "provisioning.ProvisioningOperation": "the log of panel calls, keyed for idempotency",
    "provisioning.CancellationRequest": "the customer's request, kept for the report",
    "provisioning.AutomaticBackup": "which panel backups are automatic (only those rotate)",
    "dns.DnsAllowance": "written by the dns provisioning module; it ends with the service",
    "dns.Zone": "removed through the customer's editor, which also removes it from DNS",
    "dns.DnsOperation": "the log of DNS pushes, keyed for idempotency",
    "support.Ticket": "the customer's conversation: closed or merged, never deleted",
    "common.WebhookDelivery": "the record of what was sent where (and its attempts)",
}

# --- actions ------------------------------------------------------------------------------


def _status_is(status: str) -> Callable[[Env], bool]:
    return lambda env: fresh(env.obj).status == status


def _zone_setup(env: Env) -> Zone:
    env.settings.DNS_BACKEND = "powerdns"
    env.settings.DNS_POWERDNS_URL, env.settings.DNS_POWERDNS_API_KEY = PDNS, "pdns-key"
    zone = _zone()
    api = f"{PDNS}/api/v1/servers/localhost/zones"
    env.mocked.get(f"{api}/{zone.name}.", status=404, body="Not Found")
    env.mocked.post(api, status=201, json={"name": f"{zone.name}."})
    return zone


def _zone_pushed(env: Env) -> bool:
    return any(call.request.method == "POST" for call in env.mocked.calls)


def _delete_case(label: str) -> Case:
    opts = apps.get_model(label)._meta
    return Case(
        permission=f"{opts.app_label}.delete_{opts.model_name}",
        setup=lambda env: OBJECTS[label](),
        done=lambda env: fresh(env.obj) is None,
    )


ACTIONS: dict[tuple[str, str], Case] = {
    ("provisioning.Service", "provision"): Case(
        "provisioning.provision_service",
        lambda env: _service("pending", on_panel=False),
        lambda env: fresh(env.obj).status in ("provisioning", "active"),
    ),
    ("provisioning.Service", "suspend"): Case(
        "provisioning.suspend_service", lambda env: _service("active"), _status_is("suspended")
    ),
    ("provisioning.Service", "unsuspend"): Case(
        "provisioning.suspend_service", lambda env: _service("suspended"), _status_is("active")
    ),
    ("provisioning.Service", "terminate"): Case(
        "provisioning.terminate_service", lambda env: _service("active"), _status_is("terminated")
    ),
    ("provisioning.Service", "retry_provisioning"): Case(
        "provisioning.provision_service",
        lambda env: _failed_operation().service,
        lambda env: fresh(env.obj).status in ("provisioning", "active"),
    ),
    ("provisioning.Service", "cancel_at_period_end"): Case(
        "provisioning.cancel_service",
        lambda env: _service("active"),
        lambda env: fresh(env.obj).ends_on is not None,
    ),
    ("provisioning.Service", "cancel_now"): Case(
        "provisioning.cancel_service", lambda env: _service("active"), _status_is("terminated")
    ),
    ("provisioning.CancellationRequest", "withdraw"): Case(
        "provisioning.cancel_service", lambda env: _cancellation(), _status_is("withdrawn")
    ),
    ("provisioning.ProvisioningOperation", "retry"): Case(
        "provisioning.retry_operation",
        lambda env: _failed_operation(),
        lambda env: fresh(env.obj).status in ("pending", "succeeded"),
    ),
    ("provisioning.ProvisioningOperation", "mark_resolved"): Case(
        "provisioning.resolve_operation", lambda env: _failed_operation(), _status_is("cancelled")
    ),
    ("provisioning.AutomaticBackup", "retry"): Case(
        "provisioning.retry_automatic_backup",
        lambda env: _failed_automatic_backup(),
        lambda env: AuditEvent.objects.filter(action="service.auto_backup_retried").exists(),
    ),
    ("provisioning.Server", "check_now"): Case(
        "provisioning.change_server",
        lambda env: ServerFactory(),
        lambda env: fresh(env.obj).last_checked_at is not None,
    ),
    ("dns.Zone", "reconcile"): Case("dns.reconcile_zone", _zone_setup, _zone_pushed),
    # Actions that ask for a value first: `data` is what their intermediate page posts.
    ("support.Ticket", "assign"): Case(
        "support.assign_ticket",
        lambda env: env.extra.setdefault("assignee", UserFactory(is_staff=True)) and _ticket(),
        lambda env: fresh(env.obj).assignee == env.extra["assignee"],
        data=lambda env: {"assignee": env.extra["assignee"].pk},
    ),
    ("support.Ticket", "move_department"): Case(
        "support.change_ticket",
        lambda env: env.extra.setdefault("billing", department("Billing")) and _ticket(),
        lambda env: fresh(env.obj).department.name == "Billing",
        data=lambda env: {"department": env.extra["billing"].pk},
    ),
    ("support.Ticket", "change_priority"): Case(
        "support.change_ticket",
        lambda env: _ticket(),
        lambda env: fresh(env.obj).priority == "urgent",
        data=lambda env: {"priority": "urgent"},
    ),
    ("support.Ticket", "put_on_hold"): Case(
        "support.change_ticket", lambda env: _ticket(), _status_is("on_hold")
    ),
    ("support.Ticket", "close_tickets"): Case(
        "support.change_ticket", lambda env: _ticket(), _status_is("closed")
    ),
    ("support.Ticket", "merge"): Case(
        "support.merge_ticket",
        _ticket_pair,
        lambda env: fresh(env.obj).merged_into_id == env.extra["into"].pk,
        data=lambda env: {"into": env.extra["into"].pk},
    ),
    ("invoices.Invoice", "issue_selected"): Case(
        "invoices.issue_invoice", lambda env: _draft(), _status_is("unpaid")
    ),
    ("invoices.Invoice", "cancel_selected"): Case(
        "invoices.cancel_invoice", lambda env: _unpaid(), _status_is("cancelled")
    ),
    ("common.OutboxMessage", "relay_now"): Case(
        "common.relay_outboxmessage",
        lambda env: OBJECTS["common.OutboxMessage"](),
        lambda env: fresh(env.obj).sent_at is not None,
    ),
    ("payments.WebhookEvent", "reprocess"): Case(
        "payments.reprocess_webhookevent",
        lambda env: _webhook_event(),
        lambda env: fresh(env.obj).status != "failed",
    ),
    ("accounts.StaffNote", "pin_selected"): Case(
        "accounts.change_staffnote",
        lambda env: StaffNoteFactory(pinned=False),
        lambda env: fresh(env.obj).pinned,
    ),
    ("accounts.StaffNote", "unpin_selected"): Case(
        "accounts.change_staffnote",
        lambda env: StaffNoteFactory(pinned=True),
        lambda env: not fresh(env.obj).pinned,
    ),
    ("accounts.ApiKey", "revoke_selected"): Case(
        "accounts.change_apikey",
        lambda env: OBJECTS["accounts.ApiKey"](),
        lambda env: fresh(env.obj).revoked_at is not None,
    ),
    ("axes.AccessAttempt", "cleanup_expired_attempts"): Case(
        "axes.delete_accessattempt",
        lambda env: _axes_row(AccessAttempt),
        lambda env: fresh(env.obj) is None,
    ),
    ("common.WebhookDelivery", "resend"): Case(
        "common.resend_webhookdelivery",
        lambda env: _failed_delivery(),
        lambda env: fresh(env.obj).status == "pending",
    ),
    ("common.WebhookEndpoint", "rotate_secret"): Case(
        "common.rotate_secret_webhookendpoint",
        _endpoint_with_secret,
        lambda env: fresh(env.obj).secret != env.extra["secret"],
    ),
    **{
        (label, "delete_selected"): _delete_case(label)
        for label in OBJECTS
        if label not in UNDELETABLE
    },
}

# --- custom admin URLs --------------------------------------------------------------------


def _place_setup(env: Env) -> Service:
    service = _service("pending", on_panel=False)
    env.extra["other"] = ServerFactory()
    return service


def _stripe_payment(env: Env) -> Payment:
    env.settings.STRIPE_SECRET_KEY = "sk_test_dummy"
    refund = {
        "id": "re_1",
        "object": "refund",
        "charge": "ch_1",
        "amount": 100,
        "status": "succeeded",
    }
    charge = {"id": "ch_1", "object": "charge", "amount": 4000, "amount_refunded": 100}
    env.mocked.post(f"{STRIPE}/refunds", json=refund)
    env.mocked.get(f"{STRIPE}/charges/ch_1", json=charge)
    return _payment("stripe")


def _virtfusion_customer(env: Env):
    env.settings.VIRTFUSION_URL, env.settings.VIRTFUSION_API_TOKEN = VIRTFUSION, "vf-token"
    customer = CustomerFactory()
    api = f"{VIRTFUSION}/api/v1"
    env.mocked.get(
        f"{api}/users/{customer.pk}/byExtRelation",
        json={"data": {"id": 5, "extRelationId": customer.pk}},
    )
    env.mocked.post(
        f"{api}/selfService/credit/byUserExtRelationId/{customer.pk}",
        status=201,
        json={"data": {"id": 600}},
    )
    return customer


def _lookups_server(env: Env) -> Server:
    server = ServerFactory(module="pterodactyl", base_url="https://panel.example.test")
    api = "https://panel.example.test/api/application"
    for path, name in (("nests", "Minecraft"), ("locations", "Frankfurt"), ("nodes", "node-1")):
        env.mocked.get(
            f"{api}/{path}",
            json={
                "object": "list",
                "data": [{"object": path[:-1], "attributes": {"id": 1, "name": name}}],
            },
        )
    return server


def _refund_case(url_name: str, setup: Callable[[Env], Payment] = lambda env: _payment()) -> Case:
    return Case(
        "payments.refund_payment",
        setup,
        lambda env: fresh(env.obj).amount_refunded.amount > 0,
        url=lambda env: reverse(f"admin:{url_name}", args=[env.obj.pk]),
        data=lambda env: {"amount": "1.00", "reason": "Goodwill", "request_key": "form-1"},
        pages=lambda env: [change_page(env.obj)],
    )


def _manual_invoice_data(env: Env) -> dict:
    return {
        "customer": env.obj.pk,
        "currency": "USD",
        "due_date": "",
        "notes": "",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-description": "Set-up work",
        "lines-0-quantity": "1",
        "lines-0-unit_price": "25",
    }


def _on_its_page(env: Env) -> list[str]:
    return [change_page(env.obj)]


URLS: dict[str, Case] = {
    "accounts_customer_erase": Case(
        "accounts.erase_customer",
        lambda env: CustomerFactory(),
        lambda env: fresh(env.obj).erased_at is not None,
        url=lambda env: reverse("admin:accounts_customer_erase", args=[env.obj.pk]),
        data=lambda env: {"step": "erase", "email": env.obj.user.email},
    ),
    "accounts_customer_act_as": Case(
        "accounts.act_as_customer",
        lambda env: CustomerFactory(),
        lambda env: AuditEvent.objects.filter(
            action="account.acting_started", customer=env.obj
        ).exists(),
        url=lambda env: reverse("admin:accounts_customer_act_as", args=[env.obj.pk]),
    ),
    "support_ticket_reply": Case(
        "support.reply_ticket",
        lambda env: _ticket(),
        lambda env: fresh(env.obj).messages.filter(from_staff=True).exists(),
        url=lambda env: reverse("admin:support_ticket_reply", args=[env.obj.pk]),
        data=lambda env: {"body": "We are on it.", "status": "awaiting_customer"},
        pages=_on_its_page,
    ),
    "auth_user_password_change": Case(
        "accounts.change_user",
        lambda env: UserFactory(),
        lambda env: fresh(env.obj).check_password(NEW_PASSWORD),
        url=lambda env: reverse("admin:auth_user_password_change", args=[env.obj.pk]),
        data=lambda env: {
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    ),
    "invoices_invoice_manual": Case(
        "invoices.add_invoice",
        lambda env: CustomerFactory(),
        lambda env: Invoice.objects.filter(customer=env.obj).exists(),
        url=lambda env: reverse("admin:invoices_invoice_manual"),
        data=_manual_invoice_data,
        pages=lambda env: [changelist(Invoice)],
    ),
    "invoices_invoice_credit_note": Case(
        "invoices.add_creditnote",
        lambda env: _paid(),
        lambda env: env.obj.credit_notes.exists(),
        url=lambda env: reverse("admin:invoices_invoice_credit_note", args=[env.obj.pk]),
        data=lambda env: {"amount": "1.00", "reason": "Goodwill"},
        pages=_on_its_page,
    ),
    "payments_payment_record": Case(
        "payments.add_payment",
        lambda env: _unpaid(),
        lambda env: Payment.objects.filter(invoice=env.obj).exists(),
        url=lambda env: reverse("admin:payments_payment_record"),
        data=lambda env: {
            "invoice": env.obj.pk,
            "amount": "5.00",
            "received_on": "2026-03-02",
            "method": "bank_transfer",
            "reference": "SEPA-778",
        },
        pages=lambda env: [changelist(Payment), change_page(env.obj)],
    ),
    "payments_payment_refund": _refund_case("payments_payment_refund"),
    "payments_payment_credit_refund": _refund_case("payments_payment_credit_refund"),
    "payments_payment_gateway_refund": _refund_case(
        "payments_payment_gateway_refund", _stripe_payment
    ),
    "credits_change_credit": Case(
        "credits.change_credit",
        lambda env: CustomerFactory(),
        lambda env: CreditEntry.objects.filter(account__customer=env.obj).exists(),
        url=lambda env: reverse("admin:credits_change_credit"),
        data=lambda env: {
            "customer": env.obj.pk,
            "direction": "add",
            "amount": "10",
            "currency": "USD",
            "reason": "Goodwill",
            "request_key": "r1",
        },
        pages=lambda env: [changelist(CreditAccount)],
    ),
    "billing_tokenpurchase_grant": Case(
        "billing.manage_tokens",
        _virtfusion_customer,
        lambda env: TokenPurchase.objects.filter(customer=env.obj).exists(),
        url=lambda env: reverse("admin:billing_tokenpurchase_grant"),
        data=lambda env: {"customer": env.obj.pk, "tokens": "500", "reason": "Outage"},
        pages=lambda env: [changelist(TokenPurchase)],
    ),
    "billing_tokenpurchase_resolve": Case(
        "billing.manage_tokens",
        lambda env: _token_purchase("uncertain"),
        _status_is("delivered"),
        url=lambda env: reverse("admin:billing_tokenpurchase_resolve", args=[env.obj.pk]),
        data=lambda env: {
            "action": "mark_delivered",
            "virtfusion_credit_id": "91",
            "note": "Found in the panel",
        },
        pages=_on_its_page,
    ),
    "billing_refundshortfall_resolve": Case(
        "billing.resolve_refundshortfall",
        lambda env: _shortfall(),
        _status_is("resolved"),
        url=lambda env: reverse("admin:billing_refundshortfall_resolve", args=[env.obj.pk]),
        data=lambda env: {"note": "Invoiced the customer"},
        pages=_on_its_page,
    ),
    "provisioning_server_lookups": Case(
        "provisioning.change_server",
        _lookups_server,
        lambda env: "Minecraft" in env.response.content.decode(),
        url=lambda env: reverse("admin:provisioning_server_lookups", args=[env.obj.pk]),
        method="get",
        pages=_on_its_page,
    ),
    "provisioning_cancellationrequest_report": Case(
        "provisioning.see_cancellation_report",
        lambda env: _cancellation(),
        lambda env: "Cancellation requests made from" in env.response.content.decode(),
        url=lambda env: reverse("admin:provisioning_cancellationrequest_report"),
        method="get",
        pages=lambda env: [changelist(CancellationRequest)],
    ),
    # The summary page itself needs accounts.view_customer (and each section the view
    # permission of its model: billing/tests/test_customer_summary.py); what it changes is
    # adding a note, posted to it, which needs accounts.add_staffnote.
    "accounts_customer_summary": Case(
        "accounts.add_staffnote",
        lambda env: CustomerFactory(),
        lambda env: StaffNote.objects.filter(customer=env.obj).exists(),
        url=lambda env: reverse("admin:accounts_customer_summary", args=[env.obj.pk]),
        data=lambda env: {"body": "Asked for a call back on Monday"},
    ),
    "provisioning_service_place": Case(
        "provisioning.provision_service",
        _place_setup,
        lambda env: fresh(env.obj).server == env.extra["other"],
        url=lambda env: reverse("admin:provisioning_service_place", args=[env.obj.pk]),
        data=lambda env: {"server": env.extra["other"].pk},
        pages=_on_its_page,
    ),
    "common_webhookdelivery_resend": Case(
        "common.resend_webhookdelivery",
        lambda env: _failed_delivery(),
        lambda env: fresh(env.obj).status == "pending",
        url=lambda env: reverse("admin:common_webhookdelivery_resend", args=[env.obj.pk]),
        pages=_on_its_page,
    ),
    "common_emailtemplateoverride_preview": Case(
        "common.change_emailtemplateoverride",
        lambda env: _override(),
        lambda env: "Hello Jane Doe" in env.response.content.decode(),
        url=lambda env: reverse("admin:common_emailtemplateoverride_preview", args=[env.obj.pk]),
        method="get",
        pages=_on_its_page,
    ),
    "common_emailtemplateoverride_test_send": Case(
        "common.test_send_emailtemplateoverride",
        lambda env: _override(),
        lambda env: any(m.subject.startswith("[Test] Reminder") for m in mail.outbox),
        url=lambda env: reverse("admin:common_emailtemplateoverride_test_send", args=[env.obj.pk]),
        pages=_on_its_page,
    ),
}


# --- the walk -----------------------------------------------------------------------------


def _permission(dotted: str) -> Permission | None:
    app_label, codename = dotted.split(".")
    return Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()


def _staff(permissions) -> User:
    user = UserFactory(is_staff=True)
    user.user_permissions.set(permissions)
    return User.objects.get(pk=user.pk)  # without a cached permission set


def _view_only() -> User:
    return _staff(Permission.objects.filter(codename__startswith="view_"))


def _users(required: str) -> dict[str, User]:
    """The three users a case is tried with (a permission not declared yet is missing from
    all three: the test then says so after the view-only check)."""
    needed = Permission.objects.filter(pk=getattr(_permission(required), "pk", None))
    views = Permission.objects.filter(codename__startswith="view_")
    return {
        "view-only": _view_only(),
        "all-but-it": _staff(Permission.objects.exclude(pk__in=needed)),
        "view-and-it": _staff(views | needed),
    }


def _assert_declared(permission: str) -> None:
    assert _permission(permission), f"No permission {permission}: declare it in Meta.permissions"


def _actions(model_admin, user: User) -> set[str]:
    request = RequestFactory().get("/")
    request.user = user
    return set(model_admin.get_actions(request))


def _custom_url_names(model_admin) -> list[str]:
    """Names of the admin's URL patterns that Django's ModelAdmin does not have."""
    standard = {p.pattern.describe() for p in admin.ModelAdmin.get_urls(model_admin)}
    return [
        p.name or str(p.pattern)
        for p in model_admin.get_urls()
        if p.pattern.describe() not in standard
    ]


def _snapshot() -> dict[str, list[dict]]:
    """Every row of every table but sessions (and the rows listing them, with their
    last-seen time): a refused request must leave it as it was."""
    return {
        model._meta.label: list(model._base_manager.order_by("pk").values())
        for model in apps.get_models()
        if model._meta.managed  # a tableless holder of permissions (reports.Report) has no rows
        and model._meta.label not in ("sessions.Session", "accounts.UserSession")
    }


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_every_admin_action_and_custom_url_declares_its_permission(admin_user):
    undeclared, stale = [], set(ACTIONS) | set(URLS)
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label
        if label not in OBJECTS:
            undeclared.append(f"{label}: add a factory to OBJECTS (and UNDELETABLE if it is)")
        for name in _actions(model_admin, admin_user):
            stale.discard((label, name))
            if (label, name) in ACTIONS:
                continue
            if name == "delete_selected" and label in UNDELETABLE:
                undeclared.append(
                    f"{label} offers deleting though {UNDELETABLE[label]} "
                    "(has_delete_permission should say no)"
                )
            else:
                undeclared.append(f"action {name!r} of {label}")
        for name in _custom_url_names(model_admin):
            stale.discard(name)
            if name not in URLS:
                undeclared.append(f"admin URL {name!r} of {label}")
    assert not undeclared, (
        "Declare the permission of each of these (in ACTIONS or URLS of this test, with "
        "@admin.action(permissions=[...]) or a permission check in the view): "
        + "; ".join(undeclared)
    )
    stale |= {label for label in OBJECTS if apps.get_model(label) not in admin.site._registry}
    assert not stale, f"Declared but no longer in the admin: {sorted(map(str, stale))}"


def test_a_view_only_user_is_offered_no_action_anywhere():
    user = _view_only()
    offered = {
        model._meta.label: sorted(actions)
        for model, model_admin in admin.site._registry.items()
        if (actions := _actions(model_admin, user))
    }
    assert offered == {}


@pytest.mark.parametrize("label", sorted(OBJECTS))
def test_delete_is_offered_only_where_the_database_allows_it(admin_client, admin_user, label):
    model = apps.get_model(label)
    model_admin = admin.site._registry[model]
    offered = "delete_selected" in _actions(model_admin, admin_user)
    assert offered is (label not in UNDELETABLE), UNDELETABLE.get(label, "should be deletable")
    if label in UNDELETABLE:  # nor through the delete page
        obj = OBJECTS[label]()
        delete = reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_delete", args=[obj.pk]
        )
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
        assert fresh(obj) is not None
    # (where it is offered, the ("<label>", "delete_selected") action case proves it works)


def _attempt(client: Client, case: Case, env: Env, *, action: tuple[str, str] | None = None):
    if action is not None:
        model = apps.get_model(action[0])
        data = {
            "action": action[1],
            "_selected_action": [env.obj.pk],
            "post": "yes",
            **case.data(env),  # the values an action's intermediate page asks for
        }
        return client.post(changelist(model), data)
    return getattr(client, case.method)(case.url(env), case.data(env))


def _assert_refused(
    client: Client, case: Case, env: Env, capture, *, action: tuple[str, str] | None = None
) -> None:
    before, calls = _snapshot(), len(env.mocked.calls)
    with capture(execute=True):
        env.response = _attempt(client, case, env, action=action)
        if action is None:
            assert env.response.status_code == 403
            assert client.post(case.url(env), case.data(env)).status_code == 403
    assert _snapshot() == before, "a refused request changed the database"
    assert len(env.mocked.calls) == calls, "a refused request called out"
    assert not case.done(env)


def _assert_allowed(
    client: Client, case: Case, env: Env, capture, *, action: tuple[str, str] | None = None
) -> None:
    with capture(execute=True):
        env.response = _attempt(client, case, env, action=action)
    assert env.response.status_code in (200, 302)
    assert case.done(env), f"{case.permission} did not have its effect"


@pytest.fixture
def env(mocked, settings) -> Env:
    return Env(mocked=mocked, settings=settings)


@pytest.mark.parametrize("key", sorted(ACTIONS), ids=lambda key: f"{key[0]}.{key[1]}")
def test_an_action_needs_its_permission(key, env, django_capture_on_commit_callbacks):
    label, name = key
    case = ACTIONS[key]
    model_admin = admin.site._registry[apps.get_model(label)]
    users = _users(case.permission)
    clients = {role: _client(user) for role, user in users.items()}  # before the object
    env.obj = case.setup(env)
    for role in ("view-only", "all-but-it"):
        _assert_refused(clients[role], case, env, django_capture_on_commit_callbacks, action=key)
        assert name not in _actions(model_admin, users[role]), f"offered to a {role} user"
        _assert_declared(case.permission)
    assert name in _actions(model_admin, users["view-and-it"])
    _assert_allowed(
        clients["view-and-it"], case, env, django_capture_on_commit_callbacks, action=key
    )


@pytest.mark.parametrize("name", sorted(URLS))
def test_a_custom_admin_view_needs_its_permission(name, env, django_capture_on_commit_callbacks):
    case = URLS[name]
    users = _users(case.permission)
    clients = {role: _client(user) for role, user in users.items()}
    env.obj = case.setup(env)
    for role in ("view-only", "all-but-it"):
        _assert_refused(clients[role], case, env, django_capture_on_commit_callbacks)
        _assert_declared(case.permission)
    for page in case.pages(env):
        link = case.url(env)
        hidden = clients["view-only"].get(page)
        assert hidden.status_code == 200
        assert link not in hidden.content.decode(), f"{page} shows {link} to a view-only user"
        assert link in clients["view-and-it"].get(page).content.decode(), f"{page} lacks {link}"
    _assert_allowed(clients["view-and-it"], case, env, django_capture_on_commit_callbacks)


# --- acceptance: a view-only staff user changes nothing anywhere in admin -----------------


@pytest.mark.parametrize("label", sorted(OBJECTS))
def test_a_view_only_user_changes_nothing_through_the_standard_forms(admin_client, label):
    model = apps.get_model(label)
    model_admin = admin.site._registry[model]
    opts = model._meta
    viewer = _client(_view_only())
    obj = OBJECTS[label]()
    page = admin_client.get(change_page(obj))
    assert page.status_code == 200
    data = form_values(page.content.decode(), f"{opts.model_name}_form")
    before = _snapshot()
    prefix = f"admin:{opts.app_label}_{opts.model_name}"
    delete = reverse(f"{prefix}_delete", args=[obj.pk])
    assert viewer.get(change_page(obj)).status_code == 200  # they may look
    assert viewer.post(change_page(obj), data).status_code == 403
    assert viewer.post(reverse(f"{prefix}_add"), data).status_code == 403
    assert viewer.post(delete, {"post": "yes"}).status_code == 403
    if model_admin.list_editable:
        assert viewer.post(changelist(model), {"_save": "Save"}).status_code == 403
    assert _snapshot() == before
    if model_admin.has_change_permission(page.wsgi_request, obj):
        # the data posted is the object's real form: a superuser saving it succeeds
        saved = admin_client.post(change_page(obj), data)
        assert saved.status_code == 302, saved.content.decode()[-3000:]
