"""What a payment provider reports, in the portal's own terms.

Each gateway adapter turns its webhook payloads (and its reconciliation listings) into these
events; the payments handlers act on them and never read a provider's payload. `gateway`
is the registry name of the adapter that reported the event: an opaque key, stored on the
rows (Payment.gateway) and used to find the adapter again, never compared with a literal.

Pure data: no ORM, no network, so the adapters can build them and the tests can read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from djmoney.money import Money


@dataclass(frozen=True)
class PaymentSucceeded:
    """Money arrived: for one of our invoices (`invoice_id`), or as a subscription charge
    (`subscription_reference`, which then pays the service's oldest unpaid renewal).

    `reference` is the provider's id of the payment, unique per gateway; `method` is a
    Payment.Method value ("card", "paypal"); `raw` is what the provider sent, kept on the
    payment for staff."""

    gateway: str
    reference: str
    amount: Money
    method: str
    invoice_id: int | None = None
    subscription_reference: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentFailed:
    """The provider refused or the bank declined a payment for an invoice; `details` are
    the provider's own facts about why (error code, message, status), for the audit log."""

    gateway: str
    reference: str
    invoice_id: int
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundReported:
    """Money went back to the customer from one of our payments (`payment_reference`).

    A provider reports either each refund on its own (`refund_reference` and `amount`: it
    is booked once per refund reference) or the payment's total refunded so far
    (`refunded_total`, which then wins: the difference to ours is booked, so late or
    repeated reports change nothing). `payment` is the payment as the report describes
    it, recorded first when the portal has not seen it yet (a refund overtaking the
    success event); None when the report does not describe it, and then a refund of an
    unknown payment is ignored."""

    gateway: str
    payment_reference: str
    amount: Money | None = None
    refund_reference: str = ""
    refunded_total: Money | None = None
    payment: PaymentSucceeded | None = None


@dataclass(frozen=True)
class SubscriptionChanged:
    """An automatic-payments subscription is now `active` (the customer approved it) or
    `ended` (cancelled or expired at the provider)."""

    ACTIVE = "active"
    ENDED = "ended"

    gateway: str
    reference: str
    status: str


@dataclass(frozen=True)
class SubscriptionPaymentFailed:
    """The provider could not collect a subscription's charge."""

    gateway: str
    reference: str


@dataclass(frozen=True)
class CardSaved:
    """The customer saved a card at the provider (`customer_reference` is the provider's id
    of the customer, `method_reference` its id of the card)."""

    gateway: str
    customer_reference: str
    method_reference: str


@dataclass(frozen=True)
class Ignored:
    """A genuine event with nothing to apply; `reason` is stored on the webhook row."""

    reason: str


NO_HANDLER = "No handler for this type."
NO_INVOICE = "The event names no invoice of this portal."

GatewayEvent = (
    PaymentSucceeded
    | PaymentFailed
    | RefundReported
    | SubscriptionChanged
    | SubscriptionPaymentFailed
    | CardSaved
    | Ignored
)
