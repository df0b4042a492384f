"""Buying account credit in one call (the API's): check the gateway, issue the purchase
invoice, start its checkout. The client area does the same in two steps of its view
(billing/views/credits.py); here it is one service so that the API view stays thin."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import Customer, User
from billing.services.purchases import credit_purchase_start, purchase_amount_parse
from invoices.models import Invoice
from payments import services as payments
from payments.errors import PaymentsError
from payments.gateways.registry import checkout_gateways_enabled
from payments.models import PaymentAttempt

NOT_AVAILABLE = "This payment method is not available."


@dataclass(frozen=True)
class PurchaseCheckout:
    invoice: Invoice
    checkout: PaymentAttempt
    redirect_url: str


def credit_purchase_checkout(
    *, customer: Customer, amount: str, gateway_name: str, base_url: str, actor: User | None
) -> PurchaseCheckout:
    """Issue the invoice buying `amount` (as the customer typed it, in their preferred
    currency, CREDITS_PURCHASE_MIN to _MAX) of credit and start paying it at `gateway_name`.

    The amount and the gateway are checked before the invoice is issued, so bad input or a
    gateway that is off leaves nothing behind. A provider that fails after that leaves the
    invoice unpaid, as the client area does: it can be paid again (`checkout_begin_attempt`)
    or is cancelled by the billing run like any unpaid purchase."""
    money = purchase_amount_parse(amount, currency=customer.preferred_currency)
    if gateway_name not in checkout_gateways_enabled():
        raise PaymentsError(NOT_AVAILABLE, code="gateway_unavailable")
    invoice = credit_purchase_start(customer=customer, amount=money, actor=actor)
    checkout, url = payments.checkout_begin_attempt(
        invoice=invoice, gateway_name=gateway_name, base_url=base_url
    )
    return PurchaseCheckout(invoice=invoice, checkout=checkout, redirect_url=url)
