"""DNS plans through the common engine, for the DNS tests: the plans are catalogue products
of the `dns` module; buying one places an order whose invoice account credit pays at once,
and everything after the paying transaction (the module's set-up, the pushes) runs as it
would after commit."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import time_machine
from django.test import TestCase
from django.utils import timezone
from djmoney.money import Money

from billing import services as billing
from billing.services import OrderRequest
from catalogue.models import Product
from credits.services import credit_entry_append
from dnszones.demo import dns_plan_slug, dns_plans_seed
from invoices.models import Invoice
from invoices.selectors import order_invoice
from provisioning.demo import dns_server_seed
from provisioning.models import Service

after_commit = TestCase.captureOnCommitCallbacks


def usd(value: str) -> Money:
    return Money(Decimal(value), "USD")


def at(day: date):
    """The clock at noon on `day` (the order, its invoice and its period start then)."""
    noon = datetime.combine(day, datetime.min.time()) + timedelta(hours=12)
    return time_machine.travel(timezone.make_aware(noon), tick=False)


def dns_seed() -> None:
    """The DNS plans and their server again, for tests whose database was flushed."""
    dns_plans_seed()
    dns_server_seed()


def dns_product(name: str) -> Product:
    return Product.objects.get(slug=dns_plan_slug(name))


def fund(customer, amount: str, key: str) -> None:
    credit_entry_append(
        customer=customer, amount=usd(amount), kind="admin_add", idempotency_key=key
    )


def buy(customer, name: str = "Basic") -> tuple[Service, Invoice]:
    """Buy a plan as the DNS page does: order, invoice, paid from credit if it covers it."""
    with after_commit(execute=True):
        order = billing.order_place(
            customer=customer,
            request=OrderRequest(product=dns_product(name), cycle="monthly", currency="USD"),
        )
    invoice = order_invoice(order)
    assert invoice is not None
    with after_commit(execute=True):
        billing.credit_pay_invoice_if_covered(customer=customer, invoice_id=invoice.pk)
    invoice.refresh_from_db()
    return Service.objects.get(order=order), invoice


def run(today: date):
    """The billing run on `today`, with what it schedules after commit."""
    with after_commit(execute=True):
        return billing.billing_run(today=today)
