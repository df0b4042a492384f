"""Order placement and plan changes, the flows that span apps.

Placing an order is invoices' (invoices.order_place), followed here by the reaction to the
invoice it issued (billing.services.issuing.invoice_issued: a fully discounted order is paid
at once). A plan change is provisioning's rules (quote, lock, apply), an invoice for an
upgrade and account credit for a downgrade: the request that joins them is here."""

from __future__ import annotations

from datetime import date

from django.db import transaction

from accounts.models import Customer, User
from billing.services.issuing import invoice_issue, invoice_issued
from billing_portal.common.db import retry_on_conflict
from billing_portal.common.request import RequestMeta
from credits import services as credits
from invoices import services as invoices
from invoices.models import Invoice, InvoiceLine, Order
from invoices.services.orders import order_invoice
from provisioning import services as provisioning
from provisioning.models import Service, ServiceChange


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
    """Upgrade (invoice, applied when paid) or downgrade (credited and applied now)."""
    peek = provisioning.plan_change_peek(
        customer=customer,
        service_id=service_id,
        to_product_id=to_product_id,
        option_quantities=option_quantities,
        today=today,
    )
    if not peek.is_upgrade:  # it writes credit: the credit account is locked first
        credits.credit_account_lock(customer, str(peek.new_recurring.currency))
    started = provisioning.plan_change_start(
        customer=customer,
        service_id=service_id,
        to_product=peek.to_product,
        option_quantities=option_quantities,
        today=today,
    )
    service, change, quote = started.service, started.change, started.quote
    if quote.is_upgrade:
        change.invoice = _upgrade_invoice(service, quote, actor)
        change.save(update_fields=["invoice"])
        return change
    if quote.difference.amount < 0:
        credits.credit_downgrade_add(
            customer=customer,
            amount=-quote.difference,
            change_id=change.pk,
            description=f"Downgrade of {service} to {quote.to_product.name}",
        )
    provisioning.plan_change_apply(service, change, actor)
    return change


def _add_ons_text(quote: provisioning.PlanChangeQuote) -> str:
    parts = [f"{option.name} x {quantity}" for option, quantity in quote.options]
    return f" with {', '.join(parts)}" if parts else ""


def _upgrade_invoice(
    service: Service, quote: provisioning.PlanChangeQuote, actor: User | None
) -> Invoice:
    """The invoice for the prorated difference, issued (and reacted to) now."""
    line = invoices.LineDraft(
        kind=InvoiceLine.Kind.PLAN_CHANGE,
        description=(
            f"Change to {quote.to_product.name}{_add_ons_text(quote)} for the rest of "
            f"the period ({quote.days_left} of {quote.days_in_period} days)"
        ),
        unit_price=quote.difference,
        service_id=service.pk,
        period_end=service.next_due_date,
    )
    draft = invoices.invoice_create_draft(
        customer=service.customer,
        currency=str(service.currency),
        lines=[line],
        kind=Invoice.Kind.UPGRADE,
    )
    return invoice_issue(invoice_id=draft.pk, actor=actor)
