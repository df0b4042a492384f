"""Order placement and plan changes, the flows that span apps.

Ordering: quote a configured product, place the order, cancel an unpaid order. Placing an
order creates, in one transaction, the catalogue's Order with its coupon redemption, a
pending Service with its options (provisioning) and an issued invoice due today (invoices),
then reacts to the invoice (`invoice_issued`: a fully discounted order is paid at once).
Stock and coupon limits are checked under row locks (product, then coupon), so concurrent
orders cannot oversell or overuse. The billing run cancels orders left unpaid
(`orders_unpaid_due`, `order_cancel_if_pending`).

Orders and plan changes price through invoices' `coupon_apply` then `group_discount_apply`
(the customer's client group discount as its own line, read when the invoice is priced).

A plan change is provisioning's rules (quote, apply the new plan to the service), billing's
ServiceChange (billing/services/changes.py), an invoice for an upgrade and account credit
for a downgrade: the request that joins them is here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from djmoney.money import Money

from accounts.locks import customer_lock
from accounts.models import Customer, User
from billing.models import ServiceChange
from billing.services.changes import plan_change_apply, plan_change_start
from billing.services.issuing import invoice_issue, invoice_issued
from billing.services.trials import (
    TrialOffer,
    trial_coupon_check,
    trial_lines,
    trial_offer,
    trial_summary,
)
from billing_portal.common.audit import audit_record
from billing_portal.common.db import retry_on_conflict
from billing_portal.common.emails import email_send_on_commit
from billing_portal.common.hostnames import domain_name_ascii, host_name_ascii
from billing_portal.common.request import RequestMeta
from catalogue import services as catalogue
from catalogue.audit import OrderAudit
from catalogue.errors import (
    AlreadyHeld,
    InvalidOrderField,
    MissingOrderField,
    OrderNotCancellable,
    OutOfStock,
    PriceUnavailable,
)
from catalogue.locks import coupon_lock, order_lock, product_lock
from catalogue.models import BillingCycle, ConfigurableOption, Coupon, Order, Product, ProductPrice
from catalogue.selectors import (
    ChosenOption,
    GroupDiscounts,
    client_group_discounts_for,
    coupon_check,
    options_chosen,
    order_by_idempotency_key,
    product_price_get,
    recurring_amount_of,
)
from catalogue.trials import trial_redemption_create
from credits import services as credits
from invoices import services as invoices
from invoices.models import Invoice, InvoiceLine
from invoices.pricing import LineAmounts, Totals
from invoices.selectors import order_invoice
from invoices.services.group_discounts import group_discount_apply, group_discounted
from invoices.services.invoices import (
    LineDraft,
    coupon_apply,
    invoice_cancel,
    invoice_create_draft,
    lines_price,
)
from invoices.tax import TaxTreatment
from provisioning import services as provisioning
from provisioning.models import LIVE_STATUSES, Service
from provisioning.selectors import service_current_of_module
from provisioning.services import (
    server_room_check,
    service_cancel,
    service_create_pending,
    service_period_end,
)

# The order invoice's lines that belong to the service it creates (reports count them as
# the product's revenue): its price, its add-ons and the group discount on them.
SERVICE_LINE_KINDS = (
    InvoiceLine.Kind.SERVICE,
    InvoiceLine.Kind.OPTION,
    InvoiceLine.Kind.GROUP_DISCOUNT,
)


@dataclass(frozen=True)
class OrderRequest:
    """What the customer configured on the order page."""

    product: Product
    cycle: str
    currency: str
    option_quantities: dict[int, int] = field(default_factory=dict)  # option id -> quantity
    coupon_code: str = ""
    domain: str = ""
    hostname: str = ""


@dataclass(frozen=True)
class Quote:
    """The priced order, exactly as the first invoice will be."""

    request: OrderRequest
    lines: list[LineDraft]
    amounts: list[LineAmounts]
    totals: Totals
    tax: TaxTreatment
    coupon: Coupon | None
    options: list[tuple[ConfigurableOption, int]]
    recurring_amount: Money  # list price per cycle, before any recurring discount
    recurring_total: Money | None  # what each renewal will cost with tax; None if one-time
    domain: str = ""  # as stored: lower-case ASCII (punycode)
    hostname: str = ""
    trial: TrialOffer | None = None  # the free trial this order starts, if any

    @property
    def cycle_label(self) -> str:
        return BillingCycle(self.request.cycle).label

    @property
    def trial_text(self) -> str:
        """ "14 days free, then $10.00 per month" for a trial; empty otherwise."""
        if self.trial is None:
            return ""
        return trial_summary(
            days=self.trial.days, then=self.recurring_total, cycle=self.request.cycle
        )

    @property
    def rows(self) -> list[tuple[LineDraft, LineAmounts]]:
        return list(zip(self.lines, self.amounts, strict=True))


def _product_price(request: OrderRequest) -> ProductPrice:
    return product_price_get(
        product=request.product, cycle=request.cycle, currency=request.currency
    )


def _chosen_options(request: OrderRequest) -> list[ChosenOption]:
    return options_chosen(
        product=request.product,
        cycle=request.cycle,
        currency=request.currency,
        quantities=request.option_quantities,
    )


def _order_names(request: OrderRequest) -> tuple[str, str]:
    """The domain and hostname as the service stores them (lower-case ASCII): required
    where the product needs them, and real names whenever given."""
    domain, hostname = request.domain.strip(), request.hostname.strip()
    if request.product.requires_domain and not domain:
        raise MissingOrderField("Enter the domain name for this service.")
    if request.product.requires_hostname and not hostname:
        raise MissingOrderField("Enter a hostname for this service.")
    try:
        domain = domain and domain_name_ascii(domain)
    except ValueError as exc:
        raise InvalidOrderField("Enter a domain name such as example.com.") from exc
    try:
        hostname = hostname and host_name_ascii(hostname)
    except ValueError as exc:
        raise InvalidOrderField("Enter a host name such as server1.example.com.") from exc
    return domain, hostname


def _order_lines(
    request: OrderRequest,
    price: ProductPrice,
    options: list[ChosenOption],
    period: tuple[date, date | None],
) -> list[LineDraft]:
    start, end = period
    cycle = BillingCycle(request.cycle).label
    lines = [
        LineDraft(
            kind=InvoiceLine.Kind.SERVICE,
            description=f"{request.product.name} ({cycle})",
            unit_price=price.price,
            period_start=start,
            period_end=end,
        )
    ]
    if price.setup_fee.amount:
        lines.append(
            LineDraft(
                kind=InvoiceLine.Kind.SETUP_FEE,
                description=f"Setup fee: {request.product.name}",
                unit_price=price.setup_fee,
            )
        )
    for chosen in options:
        option, quantity, unit_price, setup_fee = (
            chosen.option,
            chosen.quantity,
            chosen.unit_price,
            chosen.setup_fee,
        )
        lines.append(
            LineDraft(
                kind=InvoiceLine.Kind.OPTION,
                description=f"{option.name} ({option.unit_label})",
                unit_price=unit_price,
                quantity=Decimal(quantity),
                period_start=start,
                period_end=end,
            )
        )
        if setup_fee.amount:
            lines.append(
                LineDraft(
                    kind=InvoiceLine.Kind.SETUP_FEE,
                    description=f"Setup fee: {option.name}",
                    unit_price=setup_fee * quantity,
                )
            )
    return lines


def _recurring_total(
    *,
    customer: Customer,
    request: OrderRequest,
    amount: Money,
    coupon: Coupon | None,
    discounts: GroupDiscounts | None,
) -> Money | None:
    if request.cycle == BillingCycle.ONE_TIME:
        return None
    recurring_coupon = coupon if coupon and coupon.applies == Coupon.Applies.RECURRING else None
    line = LineDraft(kind=InvoiceLine.Kind.SERVICE, description="renewal", unit_price=amount)
    priced = lines_price(
        customer=customer,
        currency=request.currency,
        lines=_group_discount(request, coupon_apply([line], recurring_coupon), discounts),
    )
    return priced.totals.total


def _group_discount(
    request: OrderRequest, lines: list[LineDraft], discounts: GroupDiscounts | None
) -> list[LineDraft]:
    """The lines with the customer's client group discount line after them (the coupon is
    applied first: invoices/services/group_discounts.py says why)."""
    return group_discount_apply(
        lines=lines,
        discounts=discounts,
        product_group_id=request.product.group_id,
        currency=request.currency,
    )


def order_quote(*, customer: Customer, request: OrderRequest, today: date | None = None) -> Quote:
    """Price an order without writing anything; raises InvoicesError subclasses with a
    message for the customer when the configuration cannot be ordered."""
    today = today or timezone.localdate()
    domain, hostname = _order_names(request)
    server_room_check(product=request.product)
    price = _product_price(request)
    options = _chosen_options(request)
    coupon = None
    if request.coupon_code.strip():
        coupon = coupon_check(
            code=request.coupon_code,
            customer=customer,
            product=request.product,
            currency=request.currency,
            at=timezone.now(),
        )
    trial = trial_offer(
        customer=customer, product=request.product, cycle=request.cycle, today=today
    )
    period = (today, service_period_end(start=today, cycle=request.cycle))
    discounts = client_group_discounts_for(customer=customer)
    lines = _order_lines(request, price, options, period)
    if trial is not None:
        trial_coupon_check(coupon)
        lines = trial_lines(lines, trial, request.currency)
    lines = coupon_apply(lines, coupon)
    lines = _group_discount(request, lines, discounts)
    priced = lines_price(customer=customer, currency=request.currency, lines=lines)
    recurring_amount = recurring_amount_of(price, options)
    return Quote(
        request=request,
        lines=lines,
        amounts=priced.amounts,
        totals=priced.totals,
        tax=priced.tax,
        coupon=coupon,
        options=[(chosen.option, chosen.quantity) for chosen in options],
        recurring_amount=recurring_amount,
        recurring_total=_recurring_total(
            customer=customer,
            request=request,
            amount=recurring_amount,
            coupon=coupon,
            discounts=discounts,
        ),
        domain=domain,
        hostname=hostname,
        trial=trial,
    )


def _check_stock(product: Product) -> None:
    if product.stock_limit is None:
        return
    sold = Service.objects.filter(product=product, status__in=LIVE_STATUSES).count()
    if sold >= product.stock_limit:
        raise OutOfStock(f"Sorry, {product.name} is sold out.")


@retry_on_conflict
@transaction.atomic
def order_place_sole(
    *,
    customer: Customer,
    request: OrderRequest,
    meta: RequestMeta | None = None,
    idempotency_key: str = "",
) -> Order:
    """Place the order of a product of a module the customer may hold one live service of
    (a DNS plan). The customer's row is locked and the check made again under it, so two
    confirmations at once (two tabs, a double click) place one order, not two plans."""
    customer_lock(customer.pk)
    placed = idempotency_key and order_by_idempotency_key(
        customer=customer, idempotency_key=idempotency_key
    )
    if placed:
        return placed
    module = request.product.module
    current = service_current_of_module(customer=customer, module=module)
    if current is not None:
        raise AlreadyHeld(f"You already have the {current.product.name} plan.")
    return order_place(
        customer=customer, request=request, meta=meta, idempotency_key=idempotency_key
    )


@retry_on_conflict
@transaction.atomic
def order_place(
    *,
    customer: Customer,
    request: OrderRequest,
    meta: RequestMeta | None = None,
    idempotency_key: str = "",
) -> Order:
    """Place the order: pending service, coupon redemption and an invoice due today; a fully
    discounted one is paid (and settled) at once. An `idempotency_key` (the API's) already
    used by the customer gives the order it placed, unchanged."""
    if idempotency_key:
        customer_lock(customer.pk)  # a retry racing its first attempt waits, then finds it
        placed = order_by_idempotency_key(customer=customer, idempotency_key=idempotency_key)
        if placed is not None:
            return placed
    product = product_lock(request.product.pk)
    if not product.is_visible:
        raise PriceUnavailable("This product is no longer available.")
    _check_stock(product)
    if request.coupon_code.strip():
        coupon_lock(request.coupon_code.strip().upper())
    quote = order_quote(customer=customer, request=request)

    order = catalogue.order_create(
        customer=customer, coupon=quote.coupon, idempotency_key=idempotency_key
    )
    if quote.trial is not None:  # checked under the product's lock, in the quote
        trial_redemption_create(
            order=order,
            product=product,
            ends_on=quote.trial.ends_on,
            card_fingerprints=quote.trial.card_fingerprints,
        )
    recurring_coupon = (
        quote.coupon if quote.coupon and quote.coupon.applies == Coupon.Applies.RECURRING else None
    )
    service = service_create_pending(
        customer=customer,
        product=product,
        cycle=request.cycle,
        recurring_amount=quote.recurring_amount,
        options=quote.options,
        order_id=order.pk,
        recurring_coupon=recurring_coupon,
        domain=quote.domain,
        hostname=quote.hostname,
    )
    lines = [
        LineDraft(**{**line.__dict__, "service_id": service.pk})
        if line.kind in SERVICE_LINE_KINDS
        else line
        for line in quote.lines
    ]
    draft = invoice_create_draft(
        customer=customer,
        currency=request.currency,
        lines=lines,
        kind=Invoice.Kind.ORDER,
        order=order,
        due_date=timezone.localdate(),
    )
    invoice = invoices.invoice_issue(invoice_id=draft.pk)
    audit_record(
        action=OrderAudit.ORDER_PLACED,
        actor=customer.user,
        customer=customer,
        target=order,
        meta=meta,
        details={
            "product": product.name,
            "invoice": invoice.number,
            "total": str(invoice.total),
            **({"trial_days": quote.trial.days} if quote.trial else {}),
        },
    )
    email_send_on_commit(
        to=[customer.user.email],
        name="order_confirmation",
        context={
            "customer_name": customer.name,
            "order_id": order.pk,
            "product": product.name,
            "total": str(invoice.total),
            "invoice_number": invoice.number,
            "invoice_path": f"/invoices/{invoice.pk}/",
        },
    )
    invoice_issued(invoice)  # a fully discounted order is paid (and settled) at once
    return order


@transaction.atomic
def order_cancel(
    *, order_id: int, actor: User | None = None, meta: RequestMeta | None = None
) -> Order:
    """Cancel a pending order whose invoice is unpaid: cancels the invoice and its services
    and frees the coupon use. Cancelling a cancelled order changes nothing."""
    order = order_lock(order_id, related=("customer",))
    if order.status == Order.Status.CANCELLED:
        return order
    invoice = order_invoice(order)
    if order.status != Order.Status.PENDING or (
        invoice is not None and invoice.status != Invoice.Status.UNPAID
    ):
        raise OrderNotCancellable
    if invoice is not None:
        invoice_cancel(invoice_id=invoice.pk, actor=actor, reason="order cancelled")
    for service_id in order.services.values_list("pk", flat=True):
        service_cancel(service_id=service_id, actor=actor, reason="order cancelled")
    catalogue.order_mark_cancelled(order)
    audit_record(
        action=OrderAudit.ORDER_CANCELLED,
        actor=actor,
        customer=order.customer,
        target=order,
        meta=meta,
    )
    return order


# --- Unpaid orders (the billing run) ------------------------------------------------------


def _unpaid_order_cutoff(today: date) -> date:
    return today - timedelta(days=settings.BILLING_CANCEL_UNPAID_ORDERS_AFTER_DAYS)


def orders_unpaid_due(*, today: date) -> list[int]:
    """Pending orders whose order invoice has been unpaid too long."""
    unpaid = (
        Q(invoices__kind=Invoice.Kind.ORDER)
        & Q(invoices__status=Invoice.Status.UNPAID)
        & Q(invoices__due_date__lte=_unpaid_order_cutoff(today))
    )
    pending = Order.objects.filter(status=Order.Status.PENDING).filter(unpaid)
    return list(pending.values_list("pk", flat=True).distinct())


def order_cancel_if_pending(*, order_id: int) -> bool:
    """Cancel the order (its invoice, services and coupon use) if it is still pending."""
    order = order_lock(order_id)
    if order.status != Order.Status.PENDING:
        return False
    order_cancel(order_id=order.pk)
    return True


# --- Plan changes -------------------------------------------------------------------------


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
    started = plan_change_start(
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
            amount=group_discounted(
                amount=-quote.difference,
                discounts=client_group_discounts_for(customer=customer),
                product_group_id=quote.to_product.group_id,
            ),
            change_id=change.pk,
            description=f"Downgrade of {service} to {quote.to_product.name}",
        )
    plan_change_apply(service, change, actor)
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
    lines = group_discount_apply(
        lines=[line],
        discounts=client_group_discounts_for(customer=service.customer),
        product_group_id=quote.to_product.group_id,
        currency=str(service.currency),
        service_id=service.pk,
    )
    draft = invoices.invoice_create_draft(
        customer=service.customer,
        currency=str(service.currency),
        lines=lines,
        kind=Invoice.Kind.UPGRADE,
    )
    return invoice_issue(invoice_id=draft.pk, actor=actor)
