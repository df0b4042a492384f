"""What a gateway adapter can do, one small Protocol per capability.

Services never ask for a provider by name: they ask the registry for "the enabled gateway
that offers X" (`registry.gateway_with(SavedCards)`), and an adapter offers a capability by
implementing its methods (`offers`). Rows keep the adapter's `name` as an opaque key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from billing_portal.common.errors import (
    ExternalServiceError,
    ExternalServiceRejected,
    ExternalServiceUnavailable,
)

if TYPE_CHECKING:
    from payments.events import GatewayEvent, PaymentSucceeded, RefundReported


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


class GatewayError(ExternalServiceError):
    """A payment provider's call failed: the portal's one external-error family, so the
    operation runner judges a gateway as it judges a panel or a DNS server."""


class GatewayUnavailable(GatewayError, ExternalServiceUnavailable):
    """Timeouts, connection errors, rate limits, 5xx: try again later (`retryable`)."""


class GatewayRejected(GatewayError, ExternalServiceRejected):
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


@dataclass(frozen=True)
class SavedCard:
    reference: str
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None
    fingerprint: str = ""  # the provider's card-number fingerprint, where it gives one


@dataclass(frozen=True)
class OffSessionResult:
    """How an off-session charge ended: `succeeded`, `authentication_required` (the bank
    wants the customer present: send them a pay link) or `declined`. `raw` is what the
    payment keeps of it."""

    outcome: str
    reference: str
    message: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundResult:
    """A refund the provider made: its id, its amount, and the payment's total refunded so
    far when the provider reports one (some do, some do not)."""

    reference: str
    amount_minor: int
    total_minor: int | None


@dataclass(frozen=True)
class OnSessionResult:
    """An on-session card payment: `succeeded`, `requires_action` (send the customer to
    `redirect_url`, their bank's 3-D Secure page) or `declined` with the bank's message.
    `raw` is what the payment keeps of it."""

    outcome: str
    reference: str
    redirect_url: str = ""
    message: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


# --- Capabilities -------------------------------------------------------------------------


class Gateway(Protocol):
    """What every adapter has: its registry name (stored on rows), how the pay page and
    staff screens call it, and the Payment.Method of the payments it takes."""

    name: str
    label: str  # on the pay page: "Card (…)"
    display_name: str  # in sentences: "Refunded at …"
    recorded_method: str  # the Payment.Method its payments are recorded with


class WebhookEvents(Protocol):
    """Turns the provider's stored webhook payloads into the portal's events (pure: no
    network, no database; the adapter need not even be configured)."""

    handled_event_types: tuple[str, ...]

    @staticmethod
    def webhook_event(event_type: str, payload: dict[str, Any]) -> GatewayEvent: ...


class CustomerAccounts(Gateway, Protocol):
    """The provider keeps a customer record for us (needed for saved cards)."""

    def customer_create(self, *, portal_customer_id: int, email: str, name: str) -> str: ...


class HostedCheckout(Gateway, Protocol):
    """Start a payment on the provider's page and read back how it ended. The customer
    comes back to `/payments/<name>/return/` with the checkout's reference in the query
    parameter `return_reference_parameter`; `return_query` is appended to that URL when
    the provider fills the reference in itself."""

    return_reference_parameter: str
    return_query: str

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


class Refunds(Gateway, Protocol):
    def refund(
        self, *, payment_reference: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> RefundResult: ...


class Reconciliation(Gateway, Protocol):
    """The provider's recent successful payments and refunds, as the portal's events."""

    def recent_payments(self, *, since: int) -> list[PaymentSucceeded]: ...

    def recent_refunds(self, *, since: int) -> list[RefundReported]: ...


class SavedCards(CustomerAccounts, Protocol):
    """Cards saved on the provider's hosted page for later payments. The customer comes
    back from saving one to `/payments/cards/return/` (with `setup_return_query` appended)
    with its reference in `setup_reference_parameter`."""

    setup_reference_parameter: str
    setup_return_query: str

    def setup_start(
        self, *, customer_reference: str, success_url: str, cancel_url: str, idempotency_key: str
    ) -> CheckoutStart: ...

    def setup_result(self, *, reference: str) -> SavedCard | None: ...

    def payment_method(self, *, reference: str) -> SavedCard: ...

    def payment_method_detach(self, *, reference: str) -> None: ...

    def customer_set_default(self, *, customer_reference: str, method_reference: str) -> None: ...


class OffSessionCharge(CustomerAccounts, Protocol):
    """Charge a saved card without the customer (renewals)."""

    def charge_off_session(
        self,
        *,
        customer_reference: str,
        method_reference: str,
        amount_minor: int,
        currency: str,
        invoice_id: int,
        idempotency_key: str,
    ) -> OffSessionResult: ...


class OnSessionCharge(CustomerAccounts, Protocol):
    """Charge a saved card with the customer present; when their bank wants them to
    confirm, they come back to `/payments/<name>/intent-return/` with the charge's
    reference in `charge_reference_parameter`."""

    charge_reference_parameter: str

    def charge_on_session(
        self,
        *,
        customer_reference: str,
        method_reference: str,
        amount_minor: int,
        currency: str,
        invoice_id: int,
        return_url: str,
        idempotency_key: str,
    ) -> OnSessionResult: ...

    def charge_result(self, *, reference: str) -> CheckoutResult: ...


class Subscriptions(Gateway, Protocol):
    """The provider charges a service's renewals itself, on a plan made from its price."""

    def plan_create(
        self, *, name: str, months: int, amount_minor: int, currency: str, idempotency_key: str
    ) -> tuple[str, str]: ...

    def subscription_create(
        self,
        *,
        plan_reference: str,
        custom_id: str,
        email: str,
        start_time: str,
        return_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> CheckoutStart: ...

    def subscription_is_active(self, *, reference: str) -> bool: ...

    def subscription_cancel(self, *, reference: str, reason: str) -> None: ...


def _methods(capability: type) -> set[str]:
    """The methods a capability Protocol (and the capabilities it extends) asks for."""
    return {
        attribute
        for klass in capability.__mro__
        if getattr(klass, "_is_protocol", False) and klass is not Protocol
        for attribute, value in vars(klass).items()
        if not attribute.startswith("_") and callable(value)
    }


def offers(adapter: object, capability: type) -> bool:
    """Whether an adapter (instance or class) implements every method of `capability`."""
    return all(callable(getattr(adapter, method, None)) for method in _methods(capability))
