"""The daily billing run, day by day, with a moving clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command

from billing import services as billing_services
from billing.models import BillingRun
from billing.services import billing_run
from billing_portal.common.audit import AuditEvent
from billing_portal.common.testing import usd
from catalogue.audit import OrderAudit
from catalogue.tests.factories import ProductFactory, ProductPriceFactory
from invoices.audit import InvoiceAudit
from invoices.models import Invoice, InvoiceNotice, UsageRecord
from invoices.services.dunning import reminder_kind
from provisioning.audit import ProvisioningAudit
from provisioning.models import Service

pytestmark = pytest.mark.django_db

START = date(2026, 1, 1)


def _at(day: date):
    return time_machine.travel(datetime(day.year, day.month, day.day, 3, tzinfo=UTC), tick=False)


class Timeline:
    """Runs the billing run on each day, twice, proving the second run changes nothing."""

    def __init__(self, capture) -> None:
        self.capture = capture
        self.day = START

    def run_until(self, end: date) -> None:
        while self.day <= end:
            with _at(self.day), self.capture(execute=True):
                first = billing_run()
                second = billing_run()
            assert first.errors == [], first.errors
            assert set(second.counts.values()) == {0}, (self.day, second.counts)
            self.day += timedelta(days=1)

    def act(self, action) -> None:
        with _at(self.day), self.capture(execute=True):
            action()


@pytest.fixture
def product():
    product = ProductFactory(name="Rust server")
    ProductPriceFactory(product=product, cycle="monthly", price=usd("10.00"))
    return product


def _subjects(mailoutbox) -> list[str]:
    return [message.subject for message in mailoutbox]


def test_one_service_from_order_to_termination(
    customer, product, mailoutbox, django_capture_on_commit_callbacks
):
    timeline = Timeline(django_capture_on_commit_callbacks)
    request = billing_services.OrderRequest(product=product, cycle="monthly", currency="USD")
    order = None

    def place():
        nonlocal order
        order = billing_services.order_place(customer=customer, request=request)
        billing_services.invoice_mark_paid(invoice_id=order.invoices.get().pk)

    # Jan 1: ordered and paid: active until Feb 1
    timeline.act(place)
    service = Service.objects.get(order=order)
    timeline.run_until(date(2026, 2, 4))
    service.refresh_from_db()
    assert service.status == Service.Status.SUSPENDED
    renewal = Invoice.objects.get(kind="renewal")
    assert renewal.due_date == date(2026, 2, 1)
    assert list(renewal.notices.order_by("id").values_list("kind", flat=True)) == [
        "upcoming",
        "due",
        "overdue_1",
        "overdue_2",
    ]

    # Feb 5: paid: unsuspended and renewed until Mar 1
    timeline.act(lambda: billing_services.invoice_mark_paid(invoice_id=renewal.pk))
    service.refresh_from_db()
    assert (service.status, service.next_due_date) == (Service.Status.ACTIVE, date(2026, 3, 1))

    # then the March renewal is never paid: suspended on Mar 4, terminated on Mar 31
    timeline.run_until(date(2026, 4, 10))
    service.refresh_from_db()
    assert service.status == Service.Status.TERMINATED
    assert service.terminated_at.date() == date(2026, 3, 31)

    invoices = list(
        Invoice.objects.order_by("sequence_number").values_list("number", "kind", "status")
    )
    assert invoices == [
        ("INV-2026-00001", "order", "paid"),
        ("INV-2026-00002", "renewal", "paid"),
        ("INV-2026-00003", "renewal", "cancelled"),
    ]
    assert _subjects(mailoutbox) == [
        "Invoice INV-2026-00001 from Billing Portal",
        f"Order #{order.pk} received: Rust server",
        "Invoice INV-2026-00002 from Billing Portal",  # Jan 25
        "Invoice INV-2026-00002 is due on 2026-02-01",  # Jan 29
        "Invoice INV-2026-00002 is due today",  # Feb 1
        "Overdue: invoice INV-2026-00002",  # Feb 2
        "Overdue: invoice INV-2026-00002",  # Feb 4
        f"Your service Rust server #{service.pk} is suspended",
        f"Your service Rust server #{service.pk} is running again",  # Feb 5, paid
        "Invoice INV-2026-00003 from Billing Portal",  # Feb 22
        "Invoice INV-2026-00003 is due on 2026-03-01",  # Feb 26
        "Invoice INV-2026-00003 is due today",
        "Overdue: invoice INV-2026-00003",  # Mar 2
        "Overdue: invoice INV-2026-00003",  # Mar 4
        f"Your service Rust server #{service.pk} is suspended",
        "Overdue: invoice INV-2026-00003",  # Mar 8, final notice
        f"Your service Rust server #{service.pk} has been terminated",  # Mar 31
    ]
    assert "final notice" in mailoutbox[-2].body
    actions = list(
        AuditEvent.objects.filter(customer=customer).order_by("id").values_list("action", flat=True)
    )
    assert actions == [
        InvoiceAudit.INVOICE_ISSUED,
        OrderAudit.ORDER_PLACED,
        InvoiceAudit.INVOICE_PAID,
        ProvisioningAudit.SERVICE_PROVISIONED,
        InvoiceAudit.INVOICE_ISSUED,  # Jan 25
        ProvisioningAudit.SERVICE_SUSPENDED,  # Feb 4
        InvoiceAudit.INVOICE_PAID,
        ProvisioningAudit.SERVICE_UNSUSPENDED,
        ProvisioningAudit.SERVICE_RENEWED,
        InvoiceAudit.INVOICE_ISSUED,  # Feb 22
        ProvisioningAudit.SERVICE_SUSPENDED,  # Mar 4
        ProvisioningAudit.SERVICE_TERMINATED,
        InvoiceAudit.INVOICE_CANCELLED,  # Mar 31
    ]
    assert BillingRun.objects.count() == 2 * ((date(2026, 4, 10) - START).days + 1)


def test_unpaid_new_orders_are_cancelled_after_seven_days(
    customer, product, django_capture_on_commit_callbacks
):
    timeline = Timeline(django_capture_on_commit_callbacks)
    request = billing_services.OrderRequest(product=product, cycle="monthly", currency="USD")
    timeline.act(lambda: billing_services.order_place(customer=customer, request=request))
    timeline.run_until(date(2026, 1, 7))
    assert Service.objects.get().status == Service.Status.PENDING
    timeline.run_until(date(2026, 1, 8))
    assert Service.objects.get().status == Service.Status.CANCELLED
    assert Invoice.objects.get().status == Invoice.Status.CANCELLED


def test_suspension_hold_defers_suspension(customer, product, django_capture_on_commit_callbacks):
    timeline = Timeline(django_capture_on_commit_callbacks)
    request = billing_services.OrderRequest(product=product, cycle="monthly", currency="USD")

    def place():
        order = billing_services.order_place(customer=customer, request=request)
        billing_services.invoice_mark_paid(invoice_id=order.invoices.get().pk)
        Service.objects.update(suspension_hold_until=date(2026, 2, 10))

    timeline.act(place)
    timeline.run_until(date(2026, 2, 10))
    assert Service.objects.get().status == Service.Status.ACTIVE
    timeline.run_until(date(2026, 2, 11))
    assert Service.objects.get().status == Service.Status.SUSPENDED


def _active_service(customer, product, next_due: date, **extra) -> Service:
    return Service.objects.create(
        customer=customer,
        product=product,
        cycle="monthly",
        currency="USD",
        recurring_amount=usd("10.00"),
        status="active",
        next_due_date=next_due,
        **extra,
    )


def test_renewals_bill_usage_overage_for_the_period_just_ended(customer, product):
    product.usage_metric = "bandwidth_gb"
    product.usage_included = Decimal("100")
    product.save()
    product.prices.update(overage_unit_price=Decimal("0.50"))
    service = _active_service(customer, product, next_due=date(2026, 2, 1))
    for day, quantity in (
        (date(2026, 1, 5), "80"),
        (date(2026, 1, 20), "45.5"),
        (date(2026, 2, 2), "999"),
    ):
        UsageRecord.objects.create(
            service=service,
            metric="bandwidth_gb",
            quantity=Decimal(quantity),
            recorded_at=datetime(day.year, day.month, day.day, tzinfo=UTC),
        )
    UsageRecord.objects.create(service=service, metric="other", quantity=Decimal("500"))

    billing_run(today=date(2026, 1, 25))

    lines = Invoice.objects.get().lines.order_by("position")
    assert [(line.kind, line.quantity, line.total) for line in lines] == [
        ("service", Decimal("1"), usd("10.00")),
        ("overage", Decimal("25.5"), usd("12.75")),
    ]
    assert (lines[1].period_start, lines[1].period_end) == (date(2026, 1, 1), date(2026, 1, 31))


def test_same_day_renewals_can_be_combined(customer, product, settings):
    settings.BILLING_COMBINE_RENEWALS = True
    for _ in range(3):
        _active_service(customer, product, next_due=date(2026, 2, 1))
    _active_service(customer, product, next_due=date(2026, 2, 2))
    run = billing_run(today=date(2026, 1, 26))
    assert run.counts["renewals"] == 4
    assert sorted(
        Invoice.objects.values_list("lines__service", flat=True).count() for _ in [0]
    ) == [4]
    assert Invoice.objects.count() == 2


def test_late_fee_is_charged_once_when_enabled(customer, product, settings):
    settings.BILLING_LATE_FEE_AFTER_DAYS = 5
    settings.BILLING_LATE_FEE_PERCENT = Decimal("10")
    _active_service(customer, product, next_due=date(2026, 2, 1))
    billing_run(today=date(2026, 1, 25))
    billing_run(today=date(2026, 2, 5))
    assert Invoice.objects.filter(kind="late_fee").count() == 0
    billing_run(today=date(2026, 2, 6))
    billing_run(today=date(2026, 2, 20))
    fee = Invoice.objects.get(kind="late_fee")
    assert fee.total == usd("1.00")
    assert fee.status == Invoice.Status.UNPAID
    assert InvoiceNotice.objects.get(kind="late_fee").fee_invoice == fee


def test_one_failing_item_does_not_stop_the_run(customer, product, monkeypatch):
    from billing.services import run as module

    broken = _active_service(customer, product, next_due=date(2026, 2, 1))
    healthy = _active_service(customer, product, next_due=date(2026, 2, 1))
    real = module.renewal_lines

    def explode_for_one(service, *usage):
        if service.pk == broken.pk:
            raise RuntimeError("tax service down")
        return real(service, *usage)

    monkeypatch.setattr(module, "renewal_lines", explode_for_one)
    run = billing_run(today=date(2026, 1, 26))
    assert run.status == BillingRun.Status.COMPLETED_WITH_ERRORS
    assert run.counts["renewals"] == 1
    assert run.errors[0]["step"] == "renewals"
    assert "tax service down" in run.errors[0]["error"]
    assert Invoice.objects.get().lines.get().service_id == healthy.pk


@pytest.mark.parametrize(
    ("offset", "kind"),
    [
        (-4, None),
        (-3, "upcoming"),
        (-1, "upcoming"),
        (0, "due"),
        (1, "overdue_1"),
        (2, "overdue_1"),
        (3, "overdue_2"),
        (7, "overdue_3"),
        (40, "overdue_3"),
    ],
)
def test_reminder_kind_by_day(offset, kind):
    due = date(2026, 6, 15)
    assert reminder_kind(due=due, today=due + timedelta(days=offset)) == kind


def test_command_runs_and_reports(customer, product, capsys):
    _active_service(customer, product, next_due=date(2026, 2, 1))
    call_command("billing_run", "--date", "2026-01-26")
    out = capsys.readouterr().out
    assert "Billing run for 2026-01-26 completed." in out
    assert "renewals: 1" in out


def test_beat_task_runs_the_same_billing_run(customer, product):
    from billing.tasks import billing_run_task

    with _at(date(2026, 1, 26)):
        _active_service(customer, product, next_due=date(2026, 2, 1))
        run_id = billing_run_task.delay().get()
    run = BillingRun.objects.get(pk=run_id)
    assert run.as_of == date(2026, 1, 26)
    assert run.counts["renewals"] == 1
