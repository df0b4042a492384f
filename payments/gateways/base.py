"""What every gateway adapter offers, one small Protocol per capability."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class WebhookInvalid(Exception):
    """The delivery is not a genuine, fresh, well-formed event: answer 400, apply nothing."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


EVENT_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")  # evt_1Nq…, WH-2WR3…: fits the stored column
EVENT_TYPE = re.compile(r"[A-Za-z0-9_.]{1,100}")  # payment_intent.succeeded, PAYMENT.SALE…


@dataclass(frozen=True)
class VerifiedEvent:
    """An authentic delivery, its id and type in the providers' documented shape (even a
    signed event with a NUL or 10,000 characters in them is refused, not stored)."""

    event_id: str
    event_type: str
    payload: dict[str, Any]

    def __post_init__(self) -> None:
        if not (EVENT_ID.fullmatch(self.event_id) and EVENT_TYPE.fullmatch(self.event_type)):
            raise WebhookInvalid("The event's id or type is malformed.")


class WebhookVerifier(Protocol):
    name: str

    def verify(self, *, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        """Check the delivery's authenticity and freshness against the raw body.

        Raises WebhookInvalid for a missing, wrong, tampered, stale or future signature and
        for a body that is not an event. Never touches the database."""


class GatewayError(Exception):
    retryable = False

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class GatewayUnavailable(GatewayError):
    """Timeouts, connection errors, rate limits, 5xx: try again later."""

    retryable = True


class GatewayRejected(GatewayError):
    """The provider refused the request (invalid, declined): retrying will not help."""


@dataclass(frozen=True)
class CheckoutStart:
    reference: str
    redirect_url: str


@dataclass(frozen=True)
class CheckoutResult:
    reference: str
    paid: bool
    payment_reference: str
    amount_minor: int
    currency: str
    invoice_id: int | None
    raw: dict[str, Any]


class HostedCheckout(Protocol):
    """Start a payment on the provider's page and read back how it ended."""

    name: str

    def checkout_start(
        self,
        *,
        invoice_id: int,
        description: str,
        amount_minor: int,
        currency: str,
        customer_reference: str | None,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> CheckoutStart: ...

    def checkout_result(self, *, reference: str) -> CheckoutResult: ...


@dataclass(frozen=True)
class SavedCard:
    reference: str
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None


@dataclass(frozen=True)
class OffSessionResult:
    """How an off-session charge ended: `succeeded`, `authentication_required` (the bank
    wants the customer present: send them a pay link) or `declined`."""

    outcome: str
    reference: str
    message: str = ""


@dataclass(frozen=True)
class RefundResult:
    """A refund the provider made: its id, its amount, and the payment's total refunded so
    far when the provider reports one (Stripe does, PayPal does not)."""

    reference: str
    amount_minor: int
    total_minor: int | None


@dataclass(frozen=True)
class OnSessionResult:
    """An on-session card payment: `succeeded`, `requires_action` (send the customer to
    `redirect_url`, their bank's 3-D Secure page) or `declined` with the bank's message."""

    outcome: str
    reference: str
    redirect_url: str = ""
    message: str = ""


@dataclass(frozen=True)
class ProviderPayment:
    """A successful payment as the provider lists it, for reconciliation: for one of our
    invoices (`invoice_id`) or a subscription charge (`subscription_reference`)."""

    reference: str
    amount_minor: int
    currency: str
    invoice_id: int | None = None
    subscription_reference: str = ""
    raw: dict[str, Any] | None = None


@dataclass(frozen=True)
class ProviderRefund:
    """A refund as the provider lists it, for reconciliation: its id, the payment it returns
    money from (our payment reference), its amount, and the payment's total refunded so far
    when the provider reports one (Stripe does, PayPal does not)."""

    reference: str
    payment_reference: str
    amount_minor: int
    currency: str
    total_minor: int | None = None
