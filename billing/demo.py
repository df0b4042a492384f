"""A year of demo business for `manage.py seed_demo`, so the staff dashboard (reports/) has
figures and charts to show: a second demo customer, Northwind Hosting, with services of the
demo products bought over the last twelve months (some cancelled since), their paid
invoices and payments through each gateway, a few overdue invoices of every age, and a
panel operation that failed for staff to look at.

History cannot be made through the services (they act now), so it is written as the rows
those services leave, with past dates. Idempotent: every row is looked up by a natural key
first (the customer's email, a service's domain, an invoice's number, a payment's gateway
reference, the operation's idempotency key), so a second run adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from accounts.models import Customer, User
from catalogue.models import CYCLE_MONTHS, Product
from invoices.models import Invoice, InvoiceLine
from payments.gateways import registry as gateways
from payments.models import Payment
from provisioning.models import ProvisioningOperation, Service

HISTORY_EMAIL = "northwind@example.com"
FAILED_OPERATION_KEY = "demo:history:failed-create"
INVOICE_SERIES = "DEMO"


@dataclass(frozen=True)
class DemoService:
    name: str
    product: str  # the demo catalogue's slug
    cycle: str
    amount: str
    months_ago: int  # when it started
    gateway: int  # which gateway: an index into the registry's, or MANUAL
    ended_months_ago: int | None = None  # terminated then


MANUAL = -1  # a payment recorded by staff (a bank transfer)

SERVICES = (
    DemoService("mc-lobby", "minecraft-4gb", "monthly", "12.00", 11, 0),
    DemoService("mc-survival", "minecraft-4gb", "monthly", "12.00", 9, 1, 3),
    DemoService("vps-build", "vps-small", "monthly", "8.00", 10, 0),
    DemoService("vps-ci", "vps-small", "quarterly", "22.50", 7, MANUAL),
    DemoService("shop", "hosting-directadmin", "annual", "96.00", 8, 0),
    DemoService("blog", "wordpress-basic", "monthly", "9.00", 6, 1),
    DemoService("agency", "hosting-nextpanel", "semiannual", "54.00", 5, 0, 1),
    DemoService("priority", "support-priority", "monthly", "29.00", 4, 0),
    DemoService("vps-stage", "vps-small", "monthly", "8.00", 2, 1),
    DemoService("mc-event", "minecraft-4gb", "monthly", "12.00", 0, 0),
)
# Overdue renewals: (the service's name, days past due); every age band of the dashboard.
OVERDUE = (("blog", 12), ("vps-build", 45), ("priority", 75), ("mc-lobby", 120))


def _gateway_and_method(index: int) -> tuple[str, str]:
    """The gateway a demo payment came through and the method it is recorded with: the
    registry's adapters in turn (only payments/gateways names providers)."""
    if index == MANUAL:
        return "manual", Payment.Method.BANK_TRANSFER
    adapter = gateways.ADAPTERS[index % len(gateways.ADAPTERS)]
    return adapter.name, adapter.recorded_method


def business_history_seed() -> None:
    customer = _customer()
    currency = settings.DEFAULT_CURRENCY
    products = {p.slug: p for p in Product.objects.filter(slug__in={s.product for s in SERVICES})}
    now = timezone.now()
    services = {}
    for demo in SERVICES:
        if demo.product in products:
            services[demo.name] = _service(customer, products[demo.product], demo, currency, now)
    for demo in SERVICES:
        if demo.name in services:
            _paid_invoices(services[demo.name], demo, now)
    for name, days in OVERDUE:
        if name in services:
            _invoice(services[name], f"{name}-overdue", now - timedelta(days=days + 14), days)
    if "vps-stage" in services:
        ProvisioningOperation.objects.get_or_create(
            idempotency_key=FAILED_OPERATION_KEY,
            defaults={
                "service": services["vps-stage"],
                "kind": ProvisioningOperation.Kind.CHANGE_PACKAGE,
                "status": ProvisioningOperation.Status.FAILED,
                "attempts": 5,
                "last_error": "The panel refused the new package: not enough disk on the node "
                "(demo).",
                "created_at": now - timedelta(hours=3),
            },
        )


def _customer() -> Customer:
    user = User.objects.filter(email=HISTORY_EMAIL).first()
    if user is None:
        user = User.objects.create_user(email=HISTORY_EMAIL, password=None)
    customer, _ = Customer.objects.get_or_create(
        user=user,
        defaults={
            "name": "Nora Northwind",
            "company": "Northwind Hosting Ltd",
            "address_line1": "2 Harbour Road",
            "city": "Bristol",
            "postal_code": "BS1 5TY",
            "country": "GB",
            "preferred_currency": settings.DEFAULT_CURRENCY,
        },
    )
    return customer


def _months_ago(now: datetime, months: int) -> datetime:
    return now - timedelta(days=round(30.44 * months) + 2)


def _service(
    customer: Customer, product: Product, demo: DemoService, currency: str, now: datetime
) -> Service:
    started = _months_ago(now, demo.months_ago)
    ended = None if demo.ended_months_ago is None else _months_ago(now, demo.ended_months_ago)
    service, _ = Service.objects.get_or_create(
        customer=customer,
        domain=f"{demo.name}.northwind.example",
        defaults={
            "product": product,
            "cycle": demo.cycle,
            "currency": currency,
            "recurring_amount": Decimal(demo.amount),
            "status": Service.Status.TERMINATED if ended else Service.Status.ACTIVE,
            "created_at": started,
            "activated_at": started,
            "terminated_at": ended,
            "next_due_date": None if ended else (now + timedelta(days=10)).date(),
        },
    )
    return service


def _paid_invoices(service: Service, demo: DemoService, now: datetime) -> None:
    """An invoice per cycle from the start until it ended (or now), each paid on time."""
    months = CYCLE_MONTHS[demo.cycle] or 12
    end = demo.ended_months_ago or 0
    for k, months_ago in enumerate(range(demo.months_ago, end - 1, -months)):
        issued = _months_ago(now, months_ago)
        invoice = _invoice(service, f"{demo.name}-{k}", issued, None)
        gateway, method = _gateway_and_method(demo.gateway)
        Payment.objects.get_or_create(
            gateway=gateway,
            reference=f"demo-{demo.name}-{k}",
            defaults={
                "invoice": invoice,
                "customer": service.customer,
                "method": method,
                "status": Payment.Status.APPLIED,
                "currency": invoice.currency,
                "amount": invoice.total.amount,
                "fee": Decimal(0),
                "amount_refunded": Decimal(0),
                "received_at": issued + timedelta(hours=2),
            },
        )


def _invoice(service: Service, key: str, issued: datetime, days_overdue: int | None) -> Invoice:
    """A renewal invoice of the service (one line, its period), issued then: paid two hours
    later, or unpaid and `days_overdue` days past its due date (two weeks after issue)."""
    number = f"{INVOICE_SERIES}-{service.domain.split('.')[0]}-{key}"
    existing = Invoice.objects.filter(number=number).first()
    if existing is not None:
        return existing
    amount = service.recurring_amount.amount
    paid = days_overdue is None
    last = Invoice.objects.filter(series=INVOICE_SERIES).order_by("-sequence_number").first()
    invoice = Invoice.objects.create(
        customer=service.customer,
        kind=Invoice.Kind.RENEWAL,
        status=Invoice.Status.PAID if paid else Invoice.Status.UNPAID,
        series=INVOICE_SERIES,
        sequence_number=(last.sequence_number or 0) + 1 if last else 1,
        number=number,
        currency=service.currency,
        subtotal=amount,
        discount_total=Decimal(0),
        tax_total=Decimal(0),
        total=amount,
        amount_paid=amount if paid else Decimal(0),
        amount_refunded=Decimal(0),
        due_date=(issued + timedelta(days=14)).date(),
        created_at=issued,
        issued_at=issued,
        paid_at=issued + timedelta(hours=2) if paid else None,
    )
    start = issued.date()
    InvoiceLine.objects.create(
        invoice=invoice,
        kind=InvoiceLine.Kind.SERVICE,
        description=f"{service.product} ({service.domain}), {service.get_cycle_display()}",
        service=service,
        period_start=start,
        period_end=start + timedelta(days=30 * (CYCLE_MONTHS[service.cycle] or 12) - 1),
        currency=service.currency,
        unit_price=amount,
        amount=amount,
        discount=Decimal(0),
        tax=Decimal(0),
        total=amount,
    )
    return invoice
