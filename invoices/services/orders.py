"""Ordering: quote a configured product, place the order, cancel an unpaid order.

Placing an order creates, in one transaction, the Order, a pending Service with its options,
the coupon redemption and an issued invoice due today. Stock and coupon limits are checked
under row locks (product, then coupon), so concurrent orders cannot oversell or overuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from djmoney.money import Money

from accounts.models import Customer, User
from billing_portal.common.audit import audit_record
from billing_portal.common.db import retry_on_conflict
from billing_portal.common.emails import email_send_on_commit
from billing_portal.common.hostnames import domain_name_ascii, host_name_ascii
from billing_portal.common.request import RequestMeta
from catalogue.errors import PriceUnavailable
from catalogue.locks import coupon_lock, product_lock
from catalogue.models import BillingCycle, ConfigurableOption, Coupon, Product, ProductPrice
from catalogue.selectors import ChosenOption, options_chosen, product_price_get, recurring_amount_of
from invoices.audit import OrderAudit
from invoices.errors import (
    CouponInvalid,
    InvalidOrderField,
    MissingOrderField,
    OrderNotCancellable,
    OutOfStock,
)
from invoices.locks import order_lock
from invoices.models import CouponRedemption, Invoice, InvoiceLine, Order
from invoices.pricing import LineAmounts, Totals, allocate, percent_of
from invoices.services.invoices import (
    LineDraft,
    invoice_cancel,
    invoice_create_draft,
    invoice_issue,
    lines_price,
)
from invoices.tax import TaxTreatment
from provisioning.models import LIVE_STATUSES, Service
from provisioning.services import (
    server_room_check,
    service_cancel,
    service_create_pending,
    service_period_end,
)

LIVE_SERVICE_STATUSES = LIVE_STATUSES


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

    @property
    def cycle_label(self) -> str:
        return BillingCycle(self.request.cycle).label

    @property
    def rows(self) -> list[tuple[LineDraft, LineAmounts]]:
        return list(zip(self.lines, self.amounts, strict=True))


def coupon_check(
    *, code: str, customer: Customer, product: Product, currency: str, at: datetime
) -> Coupon:
    """The coupon for `code` if this customer may use it on this product now; CouponInvalid
    with the reason otherwise. Limits are counted again under lock when the order is placed."""
    coupon = Coupon.objects.filter(code=code.strip().upper(), is_active=True).first()
    if coupon is None:
        raise CouponInvalid(f"The coupon code {code.strip()!r} is not valid.")
    if coupon.starts_at and at < coupon.starts_at:
        raise CouponInvalid("This coupon is not valid yet.")
    if coupon.expires_at and at >= coupon.expires_at:
        raise CouponInvalid("This coupon has expired.")
    if coupon.products.exists() and not coupon.products.filter(pk=product.pk).exists():
        raise CouponInvalid(f"This coupon cannot be used for {product.name}.")
    if coupon.kind == Coupon.Kind.FIXED and coupon.currency != currency:
        raise CouponInvalid(f"This coupon can only be used for orders in {coupon.currency}.")
    used = CouponRedemption.objects.filter(coupon=coupon).exclude(order__status="cancelled")
    if coupon.max_uses is not None and used.count() >= coupon.max_uses:
        raise CouponInvalid("This coupon has been used up.")
    if (
        coupon.max_uses_per_customer is not None
        and used.filter(customer=customer).count() >= coupon.max_uses_per_customer
    ):
        raise CouponInvalid("You have already used this coupon.")
    return coupon


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


def coupon_apply(lines: list[LineDraft], coupon: Coupon | None) -> list[LineDraft]:
    """The lines with the coupon's discount set on each (percent per line, fixed amounts
    allocated across them)."""
    if coupon is None:
        return lines
    listed = [line.unit_price * line.quantity for line in lines]
    if coupon.kind == Coupon.Kind.PERCENT:
        percent = coupon.percent
        if percent is None:  # a check constraint gives every percent coupon its percent
            raise ValueError(f"Coupon {coupon.pk} is a percent coupon without a percent.")
        discounts = [percent_of(amount, percent) for amount in listed]
    else:
        discounts = allocate(coupon.amount, listed)
    return [
        LineDraft(**{**line.__dict__, "discount": discount})
        for line, discount in zip(lines, discounts, strict=True)
    ]


def _recurring_total(
    *, customer: Customer, request: OrderRequest, amount: Money, coupon: Coupon | None
) -> Money | None:
    if request.cycle == BillingCycle.ONE_TIME:
        return None
    recurring_coupon = coupon if coupon and coupon.applies == Coupon.Applies.RECURRING else None
    line = LineDraft(kind=InvoiceLine.Kind.SERVICE, description="renewal", unit_price=amount)
    priced = lines_price(
        customer=customer,
        currency=request.currency,
        lines=coupon_apply([line], recurring_coupon),
    )
    return priced.totals.total


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
    period = (today, service_period_end(start=today, cycle=request.cycle))
    lines = coupon_apply(_order_lines(request, price, options, period), coupon)
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
            customer=customer, request=request, amount=recurring_amount, coupon=coupon
        ),
        domain=domain,
        hostname=hostname,
    )


def _check_stock(product: Product) -> None:
    if product.stock_limit is None:
        return
    sold = Service.objects.filter(product=product, status__in=LIVE_SERVICE_STATUSES).count()
    if sold >= product.stock_limit:
        raise OutOfStock(f"Sorry, {product.name} is sold out.")


@retry_on_conflict
@transaction.atomic
def order_place(
    *, customer: Customer, request: OrderRequest, meta: RequestMeta | None = None
) -> Order:
    """Place the order: pending service, coupon redemption and an invoice due today."""
    product = product_lock(request.product.pk)
    if not product.is_visible:
        raise PriceUnavailable("This product is no longer available.")
    _check_stock(product)
    if request.coupon_code.strip():
        coupon_lock(request.coupon_code.strip().upper())
    quote = order_quote(customer=customer, request=request)

    order = Order.objects.create(customer=customer, coupon=quote.coupon)
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
    if quote.coupon:
        CouponRedemption.objects.create(coupon=quote.coupon, customer=customer, order=order)
    lines = [
        LineDraft(**{**line.__dict__, "service_id": service.pk})
        if line.kind in (InvoiceLine.Kind.SERVICE, InvoiceLine.Kind.OPTION)
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
    invoice = invoice_issue(invoice_id=draft.pk)
    audit_record(
        action=OrderAudit.ORDER_PLACED,
        actor=customer.user,
        customer=customer,
        target=order,
        meta=meta,
        details={"product": product.name, "invoice": invoice.number, "total": str(invoice.total)},
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
    return order


def order_invoice(order: Order) -> Invoice | None:
    return order.invoices.filter(kind=Invoice.Kind.ORDER).first()


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
    order.status = Order.Status.CANCELLED
    order.cancelled_at = timezone.now()
    order.save(update_fields=["status", "cancelled_at"])
    audit_record(
        action=OrderAudit.ORDER_CANCELLED,
        actor=actor,
        customer=order.customer,
        target=order,
        meta=meta,
    )
    return order


def order_mark_completed_for(invoice: Invoice) -> None:
    """A paid order invoice completes its order (called by billing's invoice_settled, inside the
    paying transaction)."""
    if invoice.kind != Invoice.Kind.ORDER or invoice.order_id is None:
        return
    Order.objects.filter(pk=invoice.order_id, status=Order.Status.PENDING).update(
        status=Order.Status.COMPLETED
    )
