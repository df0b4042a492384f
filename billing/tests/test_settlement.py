"""Settlement: `billing.services.settlement.invoice_settled` is the one reaction to payment.

Nothing is registered anywhere (there is no hook registry left): paying an invoice through
any billing flow still completes the order, delivers the credit or tokens bought,
activates the service and applies the plan change, in that order, inside the paying
transaction."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from billing import services as billing
from billing.models import ServiceChange, TokenPurchase
from billing.services import settlement
from billing.services.ordering import OrderRequest
from billing_portal.common.audit import AuditEvent
from billing_portal.common.testing import usd
from catalogue.models import Order
from catalogue.tests.factories import ProductPriceFactory
from credits.models import CreditEntry
from invoices.audit import InvoiceAudit
from invoices.models import Invoice
from provisioning.audit import ProvisioningAudit
from provisioning.models import Service
from provisioning.tests.factories import ServerFactory, placed_product

pytestmark = pytest.mark.django_db

EFFECTS = [
    "order_mark_completed_for",
    "purchases_on_invoice_paid",
    "services_on_invoice_paid",
    "plan_changes_on_invoice_paid",
]


def _pay(invoice: Invoice, reference: str) -> None:
    billing.payment_record(
        invoice_id=invoice.pk, gateway="stripe", reference=reference, amount=invoice.total
    )


def _order(customer) -> Order:
    price = ProductPriceFactory(price=usd("12.00"))
    request = OrderRequest(product=price.product, cycle="monthly", currency="USD")
    return billing.order_place(customer=customer, request=request)


def _active_service(customer) -> tuple[Service, int]:
    """An active service on Medium, and the id of the Large plan it may upgrade to."""
    server = ServerFactory()
    medium, large = (
        placed_product(server.group, slug=slug, module="sandbox", module_settings={"plan": slug})
        for slug in ("medium", "large")
    )
    large.group = medium.group
    large.save()
    for product, price in ((medium, "10.00"), (large, "25.00")):
        ProductPriceFactory(product=product, price=usd(price))
    service = Service.objects.create(
        customer=customer,
        product=medium,
        cycle="monthly",
        currency="USD",
        recurring_amount=usd("10.00"),
        server=server,
        status="active",
        external_id="sandbox-svc-settle",
        next_due_date=timezone.localdate() + timedelta(days=20),
    )
    return service, large.pk


def test_there_is_no_registry_to_register_with():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("invoices.hooks")


def test_paying_has_every_effect_with_nothing_registered(
    customer, virtfusion_settings, django_capture_on_commit_callbacks
):
    order = _order(customer)
    credit_invoice = billing.credit_purchase_start(customer=customer, amount=usd("20"), actor=None)
    token_invoice = billing.token_purchase_start(customer=customer, amount=usd("5"), actor=None)
    service, large_id = _active_service(customer)
    change = billing.plan_change_request(
        customer=customer, service_id=service.pk, to_product_id=large_id
    )
    with django_capture_on_commit_callbacks(execute=False):  # no panel, no VirtFusion calls
        _pay(order.invoices.get(), "pi_order")
        _pay(credit_invoice, "pi_credit")
        _pay(token_invoice, "pi_tokens")
        _pay(change.invoice, "pi_upgrade")

    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    assert Service.objects.get(order=order).status == Service.Status.ACTIVE
    bought = CreditEntry.objects.get(kind=CreditEntry.Kind.PURCHASE)
    assert bought.amount == usd("20")
    assert TokenPurchase.objects.get(invoice=token_invoice).status == TokenPurchase.Status.PENDING
    change.refresh_from_db()
    service.refresh_from_db()
    assert change.status == ServiceChange.Status.APPLIED
    assert service.product_id == large_id


def test_the_effects_run_in_order_once_inside_the_paying_transaction(customer, monkeypatch):
    calls: list[tuple[str, int, bool]] = []
    for name in EFFECTS:
        real = getattr(settlement, name)

        def record(invoice, _name=name, _real=real):
            calls.append((_name, invoice.pk, connection.in_atomic_block))
            _real(invoice)

        monkeypatch.setattr(settlement, name, record)
    invoice = _order(customer).invoices.get()

    _pay(invoice, "pi_1")
    _pay(invoice, "pi_1")  # reported again: recorded once, settled once

    assert calls == [(name, invoice.pk, True) for name in EFFECTS]


def test_the_audit_trail_shows_payment_then_its_effects(customer):
    order = _order(customer)
    invoice = order.invoices.get()
    _pay(invoice, "pi_1")
    actions = list(
        AuditEvent.objects.filter(
            action__in=(InvoiceAudit.INVOICE_PAID, ProvisioningAudit.SERVICE_PROVISIONED)
        )
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [InvoiceAudit.INVOICE_PAID, ProvisioningAudit.SERVICE_PROVISIONED]


def test_a_failing_effect_rolls_the_payment_back(customer, monkeypatch):
    def broken(invoice):
        raise RuntimeError("panel exploded")

    monkeypatch.setattr(settlement, "services_on_invoice_paid", broken)
    order = _order(customer)
    invoice = order.invoices.get()
    with pytest.raises(RuntimeError):
        _pay(invoice, "pi_1")
    invoice.refresh_from_db()
    order.refresh_from_db()
    assert invoice.status == Invoice.Status.UNPAID
    assert order.status == Order.Status.PENDING
    assert not invoice.payments.exists()


def test_a_zero_total_invoice_is_settled_as_it_is_issued(customer, monkeypatch):
    settled: list[int] = []
    monkeypatch.setattr(settlement, "order_mark_completed_for", lambda inv: settled.append(inv.pk))
    price = ProductPriceFactory(price=usd("0.00"))
    order = billing.order_place(
        customer=customer,
        request=OrderRequest(product=price.product, cycle="monthly", currency="USD"),
    )
    invoice = order.invoices.get()
    assert invoice.status == Invoice.Status.PAID
    assert settled == [invoice.pk]


def test_a_renewal_is_offered_to_the_credit_after_the_issuing_commit(
    customer, django_capture_on_commit_callbacks, monkeypatch
):
    offered: list[int] = []
    monkeypatch.setattr("billing.services.issuing.credit_auto_apply", offered.append)
    invoice = _order(customer).invoices.get()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        billing.invoice_issued(invoice)
        assert offered == []  # not before the issuing transaction commits
    assert len(callbacks) == 1
    assert offered == [invoice.pk]
