"""Every periodic sweep runs a constant number of queries per batch (issue 14).

Each sweep in SWEEPS is run (as beat runs it: the task by its name, in this process) over a
small and a larger number of due items, and must send the same number of queries both
times: what it selects, counts and marks is done for the batch, not per item. What each
item then needs in its own transaction (a panel call, a charge, recording a missed payment)
is per item by design and is not measured here: the per-item tasks are caught where they
are published (`Task.apply_async`), and the per-item services named in `per_item` are
replaced by recorders. Each measurement runs in a savepoint that is rolled back, so both
sizes start from the same database.

Every task on beat's schedule is either a sweep here or excluded with the reason
(EXCLUDED), so a new periodic task is measured too or says why not."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from axes.models import AccessFailureLog, AccessLog
from celery import current_app
from celery.app.task import Task
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from djmoney.money import Money

from accounts.models import DataExport, IdempotencyKey, UserSession
from accounts.tests.factories import CustomerFactory, UserFactory
from billing.models import TokenPurchase
from billing_portal.common.models import OutboxMessage
from dnszones.models import DnsOperation, Record, Zone
from invoices.models import Invoice
from payments.events import PaymentSucceeded, RefundReported
from payments.models import Payment, RefundRequest, SavedPaymentMethod, WebhookEvent
from provisioning.models import ProvisioningOperation, Server
from provisioning.tests.factories import ServerFactory, service_on
from reports.models import ReportExport

pytestmark = pytest.mark.django_db

SMALL, LARGE = 5, 50
_serial = itertools.count()


def _long_ago(days: int = 400) -> Any:
    return timezone.now() - timedelta(days=days)


def _key(prefix: str) -> str:
    return f"{prefix}-{next(_serial)}"


# --- Due items, n of each kind a sweep handles --------------------------------------------


def _renewals_due(n: int, context: dict[str, Any]) -> int:
    """Unpaid renewal invoices due yesterday, each customer with a default card."""
    customers = [CustomerFactory() for _ in range(n)]
    issued = [context["invoice_factory"](customer, "10.00") for customer in customers]
    Invoice.objects.filter(pk__in=[i.pk for i in issued]).update(
        kind=Invoice.Kind.RENEWAL, due_date=timezone.localdate() - timedelta(days=1)
    )
    SavedPaymentMethod.objects.bulk_create(
        SavedPaymentMethod(customer=c, gateway="stripe", reference=_key("pm"), is_default=True)
        for c in customers
    )
    return n


class _ReconciledGateway:
    """A gateway whose recent payments and refunds are the ones the test made."""

    name = "stripe"

    def __init__(self) -> None:
        self.payments: list[PaymentSucceeded] = []
        self.refunds: list[RefundReported] = []

    def recent_payments(self, *, since: int) -> list[PaymentSucceeded]:
        return self.payments

    def recent_refunds(self, *, since: int) -> list[RefundReported]:
        return self.refunds


def _reconciliation_due(n: int, context: dict[str, Any]) -> int:
    """n payments the portal has, n it missed (their invoices exist), n for unknown
    invoices; n refunds it has booked by total, n booked by reference, n to book."""
    gateway: _ReconciledGateway = context["gateway"]
    invoice = context["invoice_factory"](None, "1000.00")
    usd = lambda amount: Money(Decimal(amount), "USD")  # noqa: E731
    known = Payment.objects.bulk_create(
        Payment(
            invoice=invoice,
            customer=invoice.customer,
            gateway="stripe",
            reference=_key("pi_known"),
            status=Payment.Status.PARTIALLY_REFUNDED,
            currency="USD",
            amount=usd("10"),
            fee=usd("0"),
            amount_refunded=usd("2"),
        )
        for _ in range(3 * n)
    )
    RefundRequest.objects.bulk_create(
        RefundRequest(
            payment=payment,
            status=RefundRequest.Status.SUCCEEDED,
            currency="USD",
            amount=usd("2"),
            reason="x",
            reference=f"re_{payment.reference}",
        )
        for payment in known[n : 2 * n]
    )
    missed_invoices = [context["invoice_factory"](None, "10.00") for _ in range(n)]

    def found(reference: str, invoice_id: int | None) -> PaymentSucceeded:
        return PaymentSucceeded("stripe", reference, usd("10"), "card", invoice_id=invoice_id)

    gateway.payments = [found(p.reference, invoice.pk) for p in known[:n]]
    gateway.payments += [found(_key("pi_missed"), i.pk) for i in missed_invoices]
    gateway.payments += [found(_key("pi_foreign"), 10**9 + k) for k in range(n)]
    by_total = [RefundReported("stripe", p.reference, refunded_total=usd("2")) for p in known[:n]]
    by_ref = [
        RefundReported("stripe", p.reference, amount=usd("2"), refund_reference=f"re_{p.reference}")
        for p in known[n : 2 * n]
    ]
    to_book = [
        RefundReported("stripe", p.reference, refunded_total=usd("3")) for p in known[2 * n :]
    ]
    gateway.refunds = by_total + by_ref + to_book
    return 2 * n  # n payments recorded, n refunds booked


def _stale_webhook_events(n: int, context: dict[str, Any]) -> int:
    events = WebhookEvent.objects.bulk_create(
        WebhookEvent(
            provider="stripe",
            event_id=_key("evt"),
            event_type="payment_intent.succeeded",
            body="{}",
            status=WebhookEvent.Status.RECEIVED,
        )
        for _ in range(n)
    )
    WebhookEvent.objects.filter(pk__in=[e.pk for e in events]).update(received_at=_long_ago(1))
    return n


def _token_purchases_due(n: int, context: dict[str, Any]) -> int:
    """n deliveries whose message was lost, n interrupted mid-call (they become uncertain,
    for staff, with an audit event and an alert each), n removals lost, n interrupted."""
    customer = CustomerFactory()
    S = TokenPurchase.Status
    long_ago = _long_ago(1)

    def rows(status: str, **fields: Any) -> list[TokenPurchase]:
        return [
            TokenPurchase(
                customer=customer,
                source=TokenPurchase.Source.STAFF,
                status=status,
                tokens=Decimal("100"),
                rate=Decimal("100"),
                currency="USD",
                amount=Money(Decimal("0"), "USD"),
                **fields,
            )
            for _ in range(n)
        ]

    TokenPurchase.objects.bulk_create(
        rows(S.PENDING, next_attempt_at=long_ago)
        + rows(S.SENDING, started_at=long_ago)
        + rows(S.REMOVAL_PENDING, next_attempt_at=long_ago)
        + rows(S.REMOVING, started_at=long_ago)
    )
    return 3 * n  # the uncertain ones are not queued


def _panel_operations_due(n: int, context: dict[str, Any]) -> int:
    service = service_on(ServerFactory())
    ProvisioningOperation.objects.bulk_create(
        ProvisioningOperation(service=service, kind="create", idempotency_key=_key("op"), **fields)
        for fields in [{"next_attempt_at": _long_ago(1)}] * n
        + [{"status": "running", "started_at": _long_ago(1)}] * n
    )
    return 2 * n


def _servers_active(n: int, context: dict[str, Any]) -> int:
    for _ in range(n):
        ServerFactory(is_active=True)
    return Server.objects.filter(is_active=True).count()


def _automatic_backups_due(n: int, context: dict[str, Any]) -> int:
    """Services due for today's automatic backup, and as many whose row waits again (its
    message lost) or was left running by a worker that died."""
    from provisioning.models import AutomaticBackup, ProductBackupPolicy, Service

    first = service_on(ServerFactory(), status="active", external_id=_key("acct"))
    ProductBackupPolicy.objects.create(product=first.product)
    services = Service.objects.bulk_create(
        Service(
            customer=first.customer,
            product=first.product,
            server=first.server,
            cycle="monthly",
            currency="USD",
            recurring_amount=Decimal("10"),
            status="active",
            external_id=_key("acct"),
        )
        for _ in range(3 * n - 1)
    )
    today = timezone.localdate()
    AutomaticBackup.objects.bulk_create(
        AutomaticBackup(service=service, slot=today, name=_key("AUTO"), **fields)
        for service, fields in zip(
            services[n - 1 :],
            [{"next_attempt_at": _long_ago(1)}] * n
            + [{"status": "running", "started_at": _long_ago(1)}] * n,
            strict=True,
        )
    )
    return 3 * n


def _dns_operations_due(n: int, context: dict[str, Any]) -> int:
    DnsOperation.objects.bulk_create(
        DnsOperation(zone_name=f"z{k}.test", kind="create_zone", idempotency_key=_key("dns"), **f)
        for k, f in enumerate(
            [{"next_attempt_at": _long_ago(1)}] * n
            + [{"status": "running", "started_at": _long_ago(1)}] * n
        )
    )
    return 2 * n


def _webhook_deliveries_due(n: int, context: dict[str, Any]) -> int:
    """Deliveries whose message was lost, and as many left running by a worker that died."""
    import uuid

    from billing_portal.common.models import WebhookDelivery, WebhookEndpoint

    endpoint = WebhookEndpoint.objects.create(
        name="CRM", url="https://hooks.example.com/x", events=["invoice.paid"]
    )
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            event_id=uuid.uuid4(),
            event_type="invoice.paid",
            body="{}",
            idempotency_key=_key("hook"),
            retry_until=timezone.now() + timedelta(hours=1),
            **fields,
        )
        for fields in [{"next_attempt_at": _long_ago(1)}] * n
        + [{"status": "running", "started_at": _long_ago(1)}] * n
    )
    return 2 * n


class _DnsServer:
    """A DNS server that serves nothing yet: reconciliation creates every zone."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def zone_get(self, name: str) -> None:
        return None

    def zone_create(self, data: Any) -> None:
        self.created.append(data.name)


def _zones(n: int, context: dict[str, Any]) -> int:
    customer = CustomerFactory()
    zones = Zone.objects.bulk_create(
        Zone(customer=customer, name=_key("z") + ".test") for _ in range(n)
    )
    Record.objects.bulk_create(
        Record(zone=zone, name=name, type="A", content="192.0.2.1", ttl=300)
        for zone in zones
        for name in ("@", "www")
    )
    return n


def _expired_sessions(n: int, context: dict[str, Any]) -> int:
    """n expired sessions, each with the row listing it, and n rows whose session is gone."""
    sessions = Session.objects.bulk_create(
        Session(session_key=_key("s").ljust(32, "x"), session_data="", expire_date=_long_ago(1))
        for _ in range(n)
    )
    user = CustomerFactory().user
    keys = [s.session_key for s in sessions] + [_key("gone").ljust(32, "x") for _ in range(n)]
    UserSession.objects.bulk_create(
        # not expired by their own clock: it is the sessions' being gone that clears them
        UserSession(user=user, session_key=key, expires_at=_long_ago(-1))
        for key in keys
    )
    return n


def _old_login_logs(n: int, context: dict[str, Any]) -> int:
    AccessLog.objects.bulk_create(
        AccessLog(username="a@example.test", ip_address="192.0.2.1", user_agent="t")
        for _ in range(n)
    )
    AccessFailureLog.objects.bulk_create(
        AccessFailureLog(username="a@example.test", ip_address="192.0.2.1", user_agent="t")
        for _ in range(n)
    )
    AccessLog.objects.update(attempt_time=_long_ago())
    AccessFailureLog.objects.update(attempt_time=_long_ago())
    return 2 * n


def _old_idempotency_keys(n: int, context: dict[str, Any]) -> int:
    user = UserFactory()
    IdempotencyKey.objects.bulk_create(
        IdempotencyKey(user=user, key=_key("i"), request_hash="h", created_at=_long_ago())
        for _ in range(n)
    )
    return n


def _old_webhook_payloads(n: int, context: dict[str, Any]) -> int:
    events = WebhookEvent.objects.bulk_create(
        WebhookEvent(
            provider="stripe",
            event_id=_key("evt"),
            event_type="charge.succeeded",
            body='{"id": "evt"}',
            status=WebhookEvent.Status.PROCESSED,
        )
        for _ in range(n)
    )
    WebhookEvent.objects.filter(pk__in=[e.pk for e in events]).update(received_at=_long_ago())
    return n


def _old_operation_logs(n: int, context: dict[str, Any]) -> int:
    service = service_on(ServerFactory())
    operations = ProvisioningOperation.objects.bulk_create(
        ProvisioningOperation(
            service=service,
            kind="create",
            idempotency_key=_key("op"),
            status="succeeded",
            request_summary={"kind": "create"},
        )
        for _ in range(n)
    )
    ProvisioningOperation.objects.filter(pk__in=[o.pk for o in operations]).update(
        updated_at=_long_ago()
    )
    return n


def _old_dns_pushes(n: int, context: dict[str, Any]) -> int:
    DnsOperation.objects.bulk_create(
        DnsOperation(
            zone_name="old.test",
            kind="push_rrset",
            idempotency_key=_key("dns"),
            status="succeeded",
            finished_at=_long_ago(),
        )
        for _ in range(n)
    )
    return n


def _old_webhook_deliveries(n: int, context: dict[str, Any]) -> int:
    """Deliveries delivered long ago, each with an attempt (deleted with it)."""
    import uuid

    from billing_portal.common.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

    endpoint = WebhookEndpoint.objects.create(
        name="CRM", url="https://hooks.example.com/x", events=["invoice.paid"]
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            event_id=uuid.uuid4(),
            event_type="invoice.paid",
            body="{}",
            idempotency_key=_key("hook"),
            retry_until=_long_ago(),
            status="succeeded",
            finished_at=_long_ago(),
        )
        for _ in range(n)
    )
    WebhookAttempt.objects.bulk_create(
        WebhookAttempt(delivery=delivery, status_code=200) for delivery in deliveries
    )
    return n


def _expired_data_exports(n: int, context: dict[str, Any]) -> int:
    customer = CustomerFactory()
    DataExport.objects.bulk_create(
        DataExport(
            customer=customer,
            status="ready",
            file_name=f"customer-{customer.pk}/export-gone-{_key('x')}.zip",
            expires_at=_long_ago(),
        )
        for _ in range(n)
    )
    return n


def _old_outbox_rows(n: int, context: dict[str, Any]) -> int:
    OutboxMessage.objects.bulk_create(
        OutboxMessage(task_name="common.email_send", sent_at=_long_ago(), consumed_at=_long_ago())
        for _ in range(n)
    )
    return n


def _old_report_exports(n: int, context: dict[str, Any]) -> int:
    user = UserFactory(is_staff=True)
    ReportExport.objects.bulk_create(
        ReportExport(
            requested_by=user,
            kind="payments",
            format="csv",
            start_date=_long_ago().date(),
            end_date=_long_ago().date(),
            status="ready",
            file_name=f"user-{user.pk}/gone-{_key('x')}.csv",
            created_at=_long_ago(400),
        )
        for _ in range(n)
    )
    return n


# --- The sweeps ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """A periodic task over due rows; `due(n, context)` makes n due items of each kind it
    handles and returns how many the sweep must handle (queue, record or prune);
    `per_item` names the per-item services (own transaction each) replaced by recorders;
    `counted` reads how many it handled from the task's result instead of from the tasks
    it queued and the per-item calls."""

    task: str
    due: Callable[[int, dict[str, Any]], int]
    per_item: tuple[str, ...] = ()
    counted: Callable[[Any], int] | None = None


def _tickets_due(n: int, context: dict[str, Any]) -> int:
    """Tickets awaiting their customer for the notice, for the auto-close (noticed), and
    past their response target, n of each."""
    from support.models import Department, Ticket

    customer, department = CustomerFactory(), Department.objects.first()
    waiting = {"status": "awaiting_customer", "awaiting_customer_since": _long_ago(30)}
    Ticket.objects.bulk_create(
        Ticket(customer=customer, department=department, subject="t", response_hours=1, **fields)
        for fields in [waiting] * n
        + [{**waiting, "close_notice_sent_at": _long_ago(20)}] * n
        + [{"status": "awaiting_staff", "response_due_at": _long_ago(1)}] * n
    )
    return 3 * n


def _announcements_due(n: int, context: dict[str, Any]) -> int:
    """Published announcements with an email not yet sent (and one scheduled, not due)."""
    from support.models import Announcement

    Announcement.objects.bulk_create(
        Announcement(title="News", body="b", email_customers=True, publish_at=_long_ago(1))
        for _ in range(n)
    )
    Announcement.objects.create(
        title="Later", body="b", email_customers=True, publish_at=timezone.now() + timedelta(1)
    )
    return n


def _cards_expiring(n: int, context: dict[str, Any]) -> int:
    """Saved cards expiring this month, each of its own customer, not noticed yet."""
    today = timezone.localdate()
    SavedPaymentMethod.objects.bulk_create(
        SavedPaymentMethod(
            customer=CustomerFactory(),
            gateway="stripe",
            reference=_key("pm"),
            exp_month=today.month,
            exp_year=today.year,
        )
        for _ in range(n)
    )
    return n


SWEEPS = (
    Sweep("support.tickets_sweep", _tickets_due),
    Sweep("support.announcements_sweep", _announcements_due),
    Sweep("payments.charge_due_renewals", _renewals_due),
    Sweep(
        "payments.reconcile",
        _reconciliation_due,
        per_item=(
            "payments.services.payments.payment_record",
            "payments.services.payments.payment_refund_sync",
            "payments.services.payments.payment_refund_book_once",
            "payments.services.subscriptions.subscription_payment_record",
        ),
    ),
    Sweep("payments.webhook_events_sweep", _stale_webhook_events),
    Sweep("credits.token_purchases_sweep", _token_purchases_due),
    Sweep("provisioning.operations_sweep", _panel_operations_due),
    Sweep("provisioning.servers_check", _servers_active),
    Sweep("dns.operations_sweep", _dns_operations_due),
    Sweep("common.webhooks_sweep", _webhook_deliveries_due),
    Sweep("backups.due_run", _automatic_backups_due),
    Sweep("dns.reconcile", _zones, counted=lambda result: result["created"]),
    # Housekeeping (HOUSEKEEPING_TASKS): each prunes in batches of 1,000 rows.
    Sweep("accounts.sessions_clear_expired", _expired_sessions, counted=int),
    Sweep("accounts.login_logs_prune", _old_login_logs, counted=int),
    Sweep("accounts.idempotency_keys_prune", _old_idempotency_keys, counted=int),
    Sweep("payments.webhook_payloads_prune", _old_webhook_payloads, counted=int),
    Sweep("provisioning.operation_logs_prune", _old_operation_logs, counted=int),
    Sweep("dns.operations_prune", _old_dns_pushes, counted=int),
    Sweep("common.outbox_prune", _old_outbox_rows, counted=int),
    Sweep("common.webhook_deliveries_prune", _old_webhook_deliveries, counted=int),
    Sweep("accounts.data_exports_prune", _expired_data_exports, counted=int),
    Sweep("reports.report_exports_prune", _old_report_exports, counted=int),
    Sweep("payments.card_expiry_notices", _cards_expiring, counted=int),
)

# Periodic tasks measured elsewhere, or that do not sweep rows.
EXCLUDED = {
    "billing.billing_run": "its chunks' queries are asserted by the billing-run tests",
    "credits.reconcile": "its queries per batch are asserted by the credits tests",
    "common.outbox_relay": "its queries per batch are asserted by the outbox tests",
    "backups.portal_backup": "one pg_dump of the database, not a sweep over rows",
}


def test_every_periodic_task_is_a_measured_sweep_or_excluded_with_its_reason():
    periodic = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    periodic |= set(settings.HOUSEKEEPING_TASKS)
    measured = {sweep.task for sweep in SWEEPS}
    assert not measured & set(EXCLUDED)
    assert periodic == measured | set(EXCLUDED)


# --- Measuring ----------------------------------------------------------------------------


@pytest.fixture
def context(monkeypatch, invoice_factory) -> dict[str, Any]:
    """What the due-item makers share: the invoice factory, a reconciling gateway and a
    DNS server that the sweeps are pointed at, and the list of per-item work done."""
    from dnszones import services as dns_services
    from payments.gateways import registry
    from payments.services import cards

    gateway, dns_server = _ReconciledGateway(), _DnsServer()
    monkeypatch.setattr(registry, "gateways_with", lambda capability: [gateway])
    monkeypatch.setattr(cards, "_off_session_names", lambda: ["stripe"])
    monkeypatch.setattr(dns_services, "dns_backend", lambda: dns_server)
    work: list[Any] = []

    def publish(task: Task, args: Any = None, kwargs: Any = None, **options: Any) -> None:
        work.append((task.name, args))

    monkeypatch.setattr(Task, "apply_async", publish)
    return {"invoice_factory": invoice_factory, "gateway": gateway, "work": work, "dns": dns_server}


# What a per-item recorder answers, as the service it stands for would.
PER_ITEM_RESULTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "payment_refund_sync": lambda kwargs: SimpleNamespace(amount_refunded=kwargs["refunded_total"]),
}


def _replace_per_item(monkeypatch, sweep: Sweep, work: list[Any]) -> None:
    for dotted in sweep.per_item:
        module, name = dotted.rsplit(".", 1)

        def recorder(*args: Any, _name: str = name, **kwargs: Any) -> Any:
            work.append((_name, kwargs))
            return PER_ITEM_RESULTS.get(_name, lambda kwargs: True)(kwargs)

        monkeypatch.setattr(f"{module}.{name}", recorder)


def _measure(sweep: Sweep, n: int, context: dict[str, Any]) -> tuple[list[str], int, int]:
    """(the SQL the sweep sent, items it had to handle, items it handled) over n due items,
    in a savepoint rolled back afterwards."""
    current_app.loader.import_default_modules()
    task = current_app.tasks[sweep.task]
    work, dns_server = context["work"], context["dns"]
    with transaction.atomic():
        expected = sweep.due(n, context)
        work.clear()
        dns_server.created.clear()
        with CaptureQueriesContext(connection) as captured:
            result = task()
        handled = sweep.counted(result) if sweep.counted else len(work)
        transaction.set_rollback(True)
    return [q["sql"] for q in captured.captured_queries], expected, handled


def _differing(few: list[str], many: list[str]) -> str:
    """The statements of the larger run, shortened, for a reader to spot the repeated ones."""
    shown = "\n".join(sql[:160] for sql in many[:40])
    return f"{len(few)} queries for {SMALL} due items, {len(many)} for {LARGE}:\n{shown}"


@pytest.mark.parametrize("sweep", SWEEPS, ids=[sweep.task for sweep in SWEEPS])
def test_the_sweep_sends_as_many_queries_for_many_due_items_as_for_few(
    sweep: Sweep, context, monkeypatch
):
    _replace_per_item(monkeypatch, sweep, context["work"])
    few, few_due, few_handled = _measure(sweep, SMALL, context)
    many, many_due, many_handled = _measure(sweep, LARGE, context)
    assert (few_handled, many_handled) == (few_due, many_due), "the due items were not all seen"
    assert len(many) == len(few), _differing(few, many)


# --- What batching keeps ------------------------------------------------------------------


def test_interrupted_token_deliveries_each_wait_for_staff_with_their_event_and_alert(
    context, django_capture_on_commit_callbacks, staff_alerts, monkeypatch
):
    from django.core import mail

    from billing.audit import TokenAudit
    from billing.services import token_purchases_sweep
    from billing_portal.common import operations
    from billing_portal.common.audit import AuditEvent

    monkeypatch.setattr(operations, "SWEEP_BATCH", 2)  # three rows: two batches

    _token_purchases_due(3, context)
    sending = list(TokenPurchase.objects.filter(status="sending").order_by("pk"))
    with django_capture_on_commit_callbacks(execute=True):
        due = token_purchases_sweep()
    assert len(due) == 3  # the lost pending ones; the interrupted ones are not resent
    for before in sending:
        after = TokenPurchase.objects.get(pk=before.pk)
        assert (after.status, after.last_error) == (
            "uncertain",
            "The call to VirtFusion was interrupted.",
        )
        assert after.finished_at is not None
        assert after.updated_at > before.updated_at
    events = AuditEvent.objects.filter(action=TokenAudit.TOKENS_DELIVERY_FAILED)
    assert sorted(events.values_list("object_id", flat=True)) == sorted(str(t.pk) for t in sending)
    assert {e.details["status"] for e in events} == {"uncertain"}
    assert sorted(m.subject for m in mail.outbox) == sorted(
        f"[Django] VPS tokens need attention (#{t.pk})" for t in sending
    )


def test_pruning_sends_two_queries_a_batch_whatever_the_rows(context):
    from billing_portal.common.db import in_batches

    def prune(n: int) -> int:
        with transaction.atomic():
            _old_dns_pushes(n, context)
            old = DnsOperation.objects.filter(status="succeeded")
            with CaptureQueriesContext(connection) as captured:
                assert in_batches(old, lambda rows: rows.delete()[0], size=10) == n
            transaction.set_rollback(True)
        return len(captured)

    assert (prune(25), prune(45)) == (2 * 3, 2 * 5)  # select ids, delete; by 10s


def test_dns_reconciliation_goes_through_every_zone_a_batch_at_a_time(context, monkeypatch):
    from dnszones import services as dns_services

    monkeypatch.setattr(dns_services, "RECONCILE_BATCH", 2)
    _zones(5, context)
    with CaptureQueriesContext(connection) as captured:
        counts = dns_services.dns_reconcile()
    assert (counts["zones"], counts["created"]) == (5, 5)
    assert sorted(context["dns"].created) == sorted(f"{z.name}." for z in Zone.objects.all())
    assert len(captured) == 2 * 3  # zones, their records; three batches


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("table", "prune", "index"),
    [
        (
            "payments_webhookevent",
            "payments.webhook_payloads_prune",
            "payments_webhook_unpruned_idx",
        ),
        (
            "provisioning_provisioningoperation",
            "provisioning.operation_logs_prune",
            "prov_operation_unpruned_idx",
        ),
    ],
)
def test_a_prune_whose_rows_stay_finds_its_work_through_a_partial_index(
    context, table, prune, index
):
    """Handled webhook deliveries and ended panel operations are kept (emptied) for good:
    the prune's selection reads the partial index of the rows not emptied yet, instead of
    walking every row ever pruned."""
    makers = {
        "payments.webhook_payloads_prune": _old_webhook_payloads,
        "provisioning.operation_logs_prune": _old_operation_logs,
    }
    makers[prune](2000, context)
    current_app.loader.import_default_modules()
    current_app.tasks[prune]()  # all pruned now: the table is rows that stay
    makers[prune](5, context)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
    with CaptureQueriesContext(connection) as captured:
        assert current_app.tasks[prune]() == 5
    selection = captured.captured_queries[0]["sql"]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {selection}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index in plan, plan
