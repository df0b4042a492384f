"""The flows that issue an invoice in another app's service, each followed by the reaction
to a newly issued invoice (billing.services.issuing.invoice_issued) in the same
transaction: order placement, credit and token purchases, plan changes."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from djmoney.money import Money

from accounts.models import Customer, User
from billing.services.issuing import invoice_issued
from billing_portal.common.db import retry_on_conflict
from billing_portal.common.request import RequestMeta
from credits import services as credits
from invoices import services as invoices
from invoices.models import Invoice, Order
from invoices.services.orders import order_invoice
from provisioning import services as provisioning
from provisioning.models import ServiceChange


@retry_on_conflict
@transaction.atomic
def order_place(
    *, customer: Customer, request: invoices.OrderRequest, meta: RequestMeta | None = None
) -> Order:
    """Place the order (invoices.order_place); a fully discounted one is paid at once."""
    order = invoices.order_place(customer=customer, request=request, meta=meta)
    invoice = order_invoice(order)
    if invoice is not None:
        invoice_issued(invoice)
    return order


@transaction.atomic
def credit_purchase_start(*, customer: Customer, amount: Money, actor: User | None) -> Invoice:
    """Issue the invoice that buys `amount` of account credit (credits)."""
    invoice = credits.credit_purchase_start(customer=customer, amount=amount, actor=actor)
    invoice_issued(invoice)
    return invoice


@transaction.atomic
def token_purchase_start(*, customer: Customer, amount: Money, actor: User | None) -> Invoice:
    """Issue the invoice for `amount` worth of VPS tokens (credits)."""
    invoice = credits.token_purchase_start(customer=customer, amount=amount, actor=actor)
    invoice_issued(invoice)
    return invoice


@retry_on_conflict
@transaction.atomic
def plan_change_request(
    *,
    customer: Customer,
    service_id: int,
    to_product_id: int,
    actor: User | None = None,
    option_quantities: dict[int, int] | None = None,
    today: date | None = None,
) -> ServiceChange:
    """Upgrade (invoiced, applied when paid) or downgrade (credited, applied now)."""
    change = provisioning.plan_change_request(
        customer=customer,
        service_id=service_id,
        to_product_id=to_product_id,
        actor=actor,
        option_quantities=option_quantities,
        today=today,
    )
    if change.invoice is not None:
        invoice_issued(change.invoice)
    return change
