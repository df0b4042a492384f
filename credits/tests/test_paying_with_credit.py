"""Paying invoices with account credit: partly, with the rest by card, and on renewal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing import services as billing_services
from billing.services import billing_run, payment_record
from billing_portal.common.testing import usd
from catalogue.tests.factories import ProductPriceFactory
from credits import services
from credits.errors import InsufficientCredit
from credits.models import CreditAccount, CreditEntry
from invoices.models import Invoice
from payments.models import Payment
from provisioning.models import Service

pytestmark = pytest.mark.django_db


def _give(customer, amount: str) -> None:
    services.credit_entry_append(
        customer=customer, amount=usd(amount), kind="admin_add", idempotency_key=f"give-{amount}"
    )


def test_credit_pays_part_and_a_card_pays_the_rest(customer, invoice_factory):
    _give(customer, "30.00")
    invoice = invoice_factory(customer, description="x")
    entry = billing_services.credit_pay_invoice(
        customer=customer, invoice_id=invoice.pk, idempotency_key="invoice:1:apply:click-1"
    )
    invoice.refresh_from_db()
    assert entry.amount == usd("-30.00")
    assert invoice.amount_due == usd("70.00")
    assert invoice.status == Invoice.Status.UNPAID
    payment_record(invoice_id=invoice.pk, gateway="stripe", reference="pi_rest", amount=usd("70"))
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    methods = sorted(invoice.payments.values_list("method", "amount"))
    assert methods == [("credit", Decimal("30.00")), ("other", Decimal("70.00"))]
    assert CreditAccount.objects.get(customer=customer).balance == usd("0")


def test_credit_never_pays_more_than_is_due(customer, invoice_factory):
    _give(customer, "500.00")
    invoice = invoice_factory(customer, "80.00", description="x")
    billing_services.credit_pay_invoice(
        customer=customer, invoice_id=invoice.pk, idempotency_key="k"
    )
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert CreditAccount.objects.get(customer=customer).balance == usd("420.00")


def test_paying_with_credit_is_idempotent_per_key(customer, invoice_factory):
    _give(customer, "30.00")
    invoice = invoice_factory(customer, description="x")
    first = billing_services.credit_pay_invoice(
        customer=customer, invoice_id=invoice.pk, idempotency_key="k"
    )
    again = billing_services.credit_pay_invoice(
        customer=customer, invoice_id=invoice.pk, idempotency_key="k"
    )
    assert first.pk == again.pk
    assert Payment.objects.count() == 1


def test_no_credit_no_payment(customer, invoice_factory):
    invoice = invoice_factory(customer, description="x")
    with pytest.raises(InsufficientCredit):
        billing_services.credit_pay_invoice(
            customer=customer, invoice_id=invoice.pk, idempotency_key="k"
        )
    assert Payment.objects.count() == 0


def _renewing_service(customer) -> Service:
    price = ProductPriceFactory(price=usd("10.00"))
    return Service.objects.create(
        customer=customer,
        product=price.product,
        cycle="monthly",
        currency="USD",
        recurring_amount=usd("10.00"),
        status="active",
        next_due_date=date(2026, 2, 1),
    )


def test_a_renewal_is_paid_from_credit_when_issued(customer, django_capture_on_commit_callbacks):
    _give(customer, "25.00")
    service = _renewing_service(customer)
    with django_capture_on_commit_callbacks(execute=True):
        billing_run(today=date(2026, 1, 26))
    renewal = Invoice.objects.get(kind="renewal")
    assert renewal.status == Invoice.Status.PAID
    service.refresh_from_db()
    assert service.next_due_date == date(2026, 3, 1)
    assert CreditAccount.objects.get(customer=customer).balance == usd("15.00")
    assert CreditEntry.objects.filter(idempotency_key=f"invoice:{renewal.pk}:auto-apply").exists()


def test_customers_can_opt_out_of_auto_apply(customer, django_capture_on_commit_callbacks):
    customer.credit_auto_apply = False
    customer.save()
    _give(customer, "25.00")
    _renewing_service(customer)
    with django_capture_on_commit_callbacks(execute=True):
        billing_run(today=date(2026, 1, 26))
    assert Invoice.objects.get(kind="renewal").status == Invoice.Status.UNPAID
