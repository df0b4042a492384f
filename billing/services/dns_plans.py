"""DNS plans as the DNS page and the API sell them (moved here from billing/views/dns.py so
both call one rule): a plan is a catalogue product of the `dns` module, bought monthly; a
customer holds one. Buying orders it (`order_place_sole`), switching is a plan change, and
either invoice is paid from account credit at once when the credit covers it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta
from django.utils import timezone
from djmoney.money import Money

from accounts.models import Customer, User
from billing.services.credit import credit_pay_invoice_if_covered
from billing.services.ordering import (
    OrderRequest,
    order_place_sole,
    order_quote,
    plan_change_request,
)
from billing_portal.common.request import RequestMeta
from catalogue.models import BillingCycle, Product
from catalogue.selectors import products_of_module
from dnszones import services as dns
from dnszones.errors import DNSError
from dnszones.module import NAME as DNS
from invoices.models import Invoice
from invoices.selectors import order_invoice
from provisioning import services as provisioning
from provisioning.models import Service
from provisioning.selectors import service_current_of_module

MONTHLY = BillingCycle.MONTHLY


@dataclass(frozen=True)
class PlanOffer:
    """A DNS plan as the DNS page sells it: a product of the `dns` module, monthly."""

    product: Product
    price: Money
    domain_limit: int
    record_limit: int

    @property
    def pk(self) -> int:
        return self.product.pk

    @property
    def name(self) -> str:
        return self.product.name

    @property
    def description(self) -> str:
        return self.product.description


def dns_plan_offer(product: Product, currency: str) -> PlanOffer | None:
    """The plan's monthly price in `currency` (else its first), None when not sold monthly."""
    prices = [p for p in product.prices.all() if p.cycle == MONTHLY]
    price = next((p for p in prices if str(p.currency) == currency), None)
    price = price or (prices[0] if prices else None)
    if price is None:
        return None
    limits = dns.dns_limits_from_settings(product.module_settings, plan_name=product.name)
    return PlanOffer(product, price.price, limits.domain_limit, limits.record_limit)


def dns_plan_offers(*, customer: Customer) -> list[PlanOffer]:
    offers = (
        dns_plan_offer(p, customer.preferred_currency) for p in products_of_module(module=DNS)
    )
    return [offer for offer in offers if offer is not None]


def dns_service_of(customer: Customer) -> Service | None:
    return service_current_of_module(customer=customer, module=DNS)


@dataclass(frozen=True)
class PlanQuote:
    """What buying or switching to `plan` does now, shown before the customer confirms:
    `amount` is invoiced (and paid from their credit when it covers it; negative: added to
    their credit) for the days from `period_start` to `period_end`; the plan then renews on
    `renews_on` (None: it ends then) at its monthly price."""

    plan: PlanOffer
    from_plan: Product | None
    amount: Money
    period_start: date
    period_end: date
    renews_on: date | None

    @property
    def credited(self) -> Money:
        return -self.amount


def dns_plan_quote(*, customer: Customer, product_id: int) -> PlanQuote:
    """The quote of buying or switching to the plan; Product.DoesNotExist for a product
    that is not a DNS plan on sale, DNSError with the reason it cannot be done now."""
    product = products_of_module(module=DNS).filter(pk=product_id).first()
    offer = dns_plan_offer(product, customer.preferred_currency) if product else None
    if product is None or offer is None:
        raise Product.DoesNotExist("No such plan.")
    today = timezone.localdate()
    service = dns_service_of(customer)
    if service is None:
        request = OrderRequest(product=product, cycle=MONTHLY, currency=str(offer.price.currency))
        total = order_quote(customer=customer, request=request).totals.total
        end = today + relativedelta(months=1)
        return PlanQuote(offer, None, total, today, end, end)
    if service.status == Service.Status.PENDING:
        raise DNSError(f"Your order of {service.product.name} awaits payment: pay its invoice.")
    if service.status in (Service.Status.PROVISIONING, Service.Status.FAILED):
        raise DNSError(f"Your {service.product.name} plan is being set up.")
    if service.status != Service.Status.ACTIVE or service.next_due_date is None:
        raise DNSError(
            f"Your {service.product.name} plan is {service.get_status_display().lower()}: "
            "pay its invoice to serve your zones again."
        )
    if service.product_id == product.pk:
        raise DNSError(f"You already have the {product.name} plan.")
    quote = provisioning.plan_change_peek(
        customer=customer, service_id=service.pk, to_product_id=product.pk
    )
    renews = None if service.ends_on else service.next_due_date
    return PlanQuote(offer, service.product, quote.difference, today, service.next_due_date, renews)


def dns_plan_confirm(
    *,
    customer: Customer,
    quote: PlanQuote,
    actor: User | None,
    meta: RequestMeta | None = None,
    idempotency_key: str = "",
) -> Invoice | None:
    """Place the order (or the plan change) and pay its invoice from credit when it
    covers it; the invoice, or None when nothing was invoiced (a downgrade)."""
    if quote.from_plan is None:
        order = order_place_sole(
            customer=customer,
            request=OrderRequest(
                product=quote.plan.product, cycle=MONTHLY, currency=str(quote.plan.price.currency)
            ),
            meta=meta,
            idempotency_key=idempotency_key,
        )
        invoice = order_invoice(order)
    else:
        service = dns_service_of(customer)
        if service is None:  # ended a moment ago
            raise DNSError("You have no DNS plan to switch.")
        change = plan_change_request(
            customer=customer, service_id=service.pk, to_product_id=quote.plan.pk, actor=actor
        )
        invoice = change.invoice
    if invoice is not None:
        credit_pay_invoice_if_covered(customer=customer, invoice_id=invoice.pk, actor=actor)
        invoice.refresh_from_db()
    return invoice


def dns_plan_cancel(*, customer: Customer, actor: User | None) -> Service:
    """End the customer's DNS plan at the end of its paid period."""
    service = dns_service_of(customer)
    if service is None:
        raise DNSError("You have no DNS plan to cancel.")
    return provisioning.service_end_at_period_end(service_id=service.pk, actor=actor)


def dns_plan_unpaid_invoice(service: Service | None) -> Invoice | None:
    """The oldest unpaid invoice billing the DNS service (its order, renewal or upgrade)."""
    if service is None:
        return None
    return (
        Invoice.objects.filter(lines__service=service, status=Invoice.Status.UNPAID)
        .order_by("due_date", "pk")
        .first()
    )
