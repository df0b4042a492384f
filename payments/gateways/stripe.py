"""Stripe adapter: webhook verification, customers and hosted Checkout.

Network I/O only. Amounts go to Stripe as integer minor units computed by the caller from
Decimal; every POST carries an idempotency key derived from our own record, so our
retries are idempotent too (stripe-python's own random key only covers its retries).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import stripe

from billing_portal.common.money import money_from_minor_units
from payments.events import (
    NO_HANDLER,
    NO_INVOICE,
    CardSaved,
    GatewayEvent,
    Ignored,
    PaymentFailed,
    PaymentSucceeded,
    RefundReported,
)
from payments.gateways.base import (
    CheckoutResult,
    CheckoutStart,
    GatewayRejected,
    GatewayUnavailable,
    OffSessionResult,
    OnSessionResult,
    RefundResult,
    SavedCard,
    VerifiedEvent,
    WebhookInvalid,
)

if TYPE_CHECKING:
    from stripe.params import PaymentIntentCreateParams
    from stripe.params.checkout import SessionCreateParams

NAME = "stripe"
METHOD = "card"  # Payment.Method of the payments Stripe takes

TOLERANCE_SECONDS = 300


def _signed_at(header: str) -> int | None:
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    return None


class StripeWebhookVerifier:
    """Stripe's scheme (HMAC-SHA256 of "{t}.{raw body}" with the endpoint secret), checked by
    stripe-python; on top, timestamps in the future are refused as well as stale ones, which
    stripe-python alone does not do."""

    name = NAME

    def __init__(
        self,
        *,
        secret: str,
        tolerance: int = TOLERANCE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret = secret
        self.tolerance = tolerance
        self.clock = clock

    def verify(self, *, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        header = headers.get("Stripe-Signature", "")
        if not header:
            raise WebhookInvalid("Missing Stripe-Signature header.")
        signed_at = _signed_at(header)
        if signed_at is None:
            raise WebhookInvalid("Stripe-Signature has no timestamp.")
        if abs(self.clock() - signed_at) > self.tolerance:
            raise WebhookInvalid("Stripe-Signature timestamp is outside the allowed window.")
        # Only the signature is checked by stripe-python: its construct_event also builds an
        # Event object and crashes on a signed body that is JSON but not an object, so the
        # body is parsed and checked here instead.
        try:
            stripe.WebhookSignature.verify_header(
                body.decode("utf-8", errors="replace"), header, self.secret, self.tolerance
            )
        except stripe.SignatureVerificationError as exc:
            raise WebhookInvalid("Stripe signature does not match.") from exc
        return _event_from(body)


def _event_from(body: bytes) -> VerifiedEvent:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookInvalid("Body is not valid JSON.") from exc
    if not (
        isinstance(payload, dict)
        and isinstance(payload.get("id"), str)
        and isinstance(payload.get("type"), str)
        and isinstance(payload.get("data"), dict)
        and isinstance(payload["data"].get("object"), dict)
    ):
        raise WebhookInvalid("Body is not a Stripe event.")
    return VerifiedEvent(payload["id"], payload["type"], payload)


# --- Webhook events -----------------------------------------------------------------------


def _invoice_ref(obj: dict[str, Any]) -> int | None:
    """The invoice our checkout or charge named in its metadata (or the session's
    client_reference_id)."""
    metadata = obj.get("metadata") or {}
    raw = metadata.get("invoice_id") or obj.get("client_reference_id")
    if raw is None:
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def _payment(obj: dict[str, Any], *, reference: str, minor_amount: int) -> GatewayEvent:
    invoice_id = _invoice_ref(obj)
    if invoice_id is None:
        return Ignored(NO_INVOICE)
    return PaymentSucceeded(
        gateway=NAME,
        reference=reference,
        amount=money_from_minor_units(minor_amount, obj["currency"].upper()),
        method=METHOD,
        invoice_id=invoice_id,
        raw=obj,
    )


def _payment_intent_succeeded(intent: dict[str, Any]) -> GatewayEvent:
    amount = intent.get("amount_received") or intent["amount"]
    return _payment(intent, reference=intent["id"], minor_amount=amount)


def _checkout_session_completed(session: dict[str, Any]) -> GatewayEvent:
    if session.get("payment_status") != "paid":
        return Ignored("Checkout finished without payment yet (asynchronous method).")
    return _payment(
        session, reference=session["payment_intent"], minor_amount=session["amount_total"]
    )


def _payment_intent_failed(intent: dict[str, Any]) -> GatewayEvent:
    invoice_id = _invoice_ref(intent)
    if invoice_id is None:
        return Ignored(NO_INVOICE)
    error = intent.get("last_payment_error") or {}
    return PaymentFailed(
        gateway=NAME,
        reference=intent["id"],
        invoice_id=invoice_id,
        details={"code": error.get("code", ""), "message": error.get("message", "")},
    )


def _charge_refunded(charge: dict[str, Any]) -> GatewayEvent:
    """Stripe reports the charge's cumulative refunded amount; the charge carries the same
    invoice metadata as its PaymentIntent, so the payment can be recorded first."""
    payment = _payment(charge, reference=charge["payment_intent"], minor_amount=charge["amount"])
    if not isinstance(payment, PaymentSucceeded):
        return payment
    return RefundReported(
        gateway=NAME,
        payment_reference=payment.reference,
        amount=None,
        refunded_total=money_from_minor_units(
            charge["amount_refunded"], charge["currency"].upper()
        ),
        payment=payment,
    )


def _setup_intent_succeeded(intent: dict[str, Any]) -> GatewayEvent:
    return CardSaved(
        gateway=NAME,
        customer_reference=intent.get("customer") or "",
        method_reference=intent.get("payment_method") or "",
    )


EVENTS: dict[str, Callable[[dict[str, Any]], GatewayEvent]] = {
    "payment_intent.succeeded": _payment_intent_succeeded,
    "checkout.session.completed": _checkout_session_completed,
    "checkout.session.async_payment_succeeded": _checkout_session_completed,
    "payment_intent.payment_failed": _payment_intent_failed,
    "charge.refunded": _charge_refunded,
    "setup_intent.succeeded": _setup_intent_succeeded,
}


def webhook_event(event_type: str, payload: dict[str, Any]) -> GatewayEvent:
    """The portal's event for a stored Stripe delivery (the envelope was checked when it
    was verified: `data.object` is an object)."""
    translate = EVENTS.get(event_type)
    if translate is None:
        return Ignored(NO_HANDLER)
    return translate(payload["data"]["object"])


def _translate(exc: stripe.StripeError) -> Exception:
    status = exc.http_status or 0
    unavailable = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)
    if isinstance(exc, unavailable) or status >= 500:
        # A lost connection or a 5xx may come after Stripe did the work; a 429 never does.
        return GatewayUnavailable(
            f"Stripe is unavailable: {exc.user_message or exc}",
            may_have_applied=not isinstance(exc, stripe.RateLimitError),
            status=status,
        )
    return GatewayRejected(exc.user_message or str(exc), status=status)


class StripeGateway:
    """Hosted Checkout, saved cards (on- and off-session charges), refunds, reconciliation
    and webhook events."""

    name = NAME
    label = "Card (Stripe)"
    display_name = "Stripe"
    recorded_method = METHOD
    # Checkout and card set-up sessions come back with `?session_id=` (Stripe fills it in),
    # a 3-D Secure confirmation with `?payment_intent=`.
    return_reference_parameter = "session_id"
    return_query = "?session_id={CHECKOUT_SESSION_ID}"
    setup_reference_parameter = "session_id"
    setup_return_query = return_query
    charge_reference_parameter = "payment_intent"
    handled_event_types = tuple(EVENTS)
    webhook_event = staticmethod(webhook_event)

    def __init__(self, *, secret_key: str, api_version: str, timeout: int = 20) -> None:
        self.client = stripe.StripeClient(
            secret_key,
            stripe_version=api_version,
            http_client=stripe.RequestsClient(timeout=timeout),
            max_network_retries=1,
        )

    def customer_create(self, *, portal_customer_id: int, email: str, name: str) -> str:
        try:
            customer = self.client.v1.customers.create(
                {
                    "email": email,
                    "name": name,
                    "metadata": {"portal_customer_id": str(portal_customer_id)},
                },
                {"idempotency_key": f"customer-{portal_customer_id}"},
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return customer.id

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
    ) -> CheckoutStart:
        metadata = {"invoice_id": str(invoice_id)}
        params: SessionCreateParams = {
            "mode": "payment",
            "client_reference_id": str(invoice_id),
            "metadata": metadata,
            # The PaymentIntent and its charge carry the invoice too, so their events
            # (payment_intent.succeeded, charge.refunded) find it; the card is saved for
            # renewals charged off-session.
            "payment_intent_data": {"metadata": metadata, "setup_future_usage": "off_session"},
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": amount_minor,
                        "product_data": {"name": description},
                    },
                }
            ],
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        if customer_reference:
            params["customer"] = customer_reference
        try:
            session = self.client.v1.checkout.sessions.create(
                params, {"idempotency_key": idempotency_key}
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        if session.url is None:  # Stripe gives every hosted Checkout Session its page
            raise ValueError(f"Stripe Checkout Session {session.id} has no url.")
        return CheckoutStart(reference=session.id, redirect_url=session.url)

    def checkout_result(self, *, reference: str) -> CheckoutResult:
        try:
            session = self.client.v1.checkout.sessions.retrieve(reference)
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        raw = session.to_dict()
        metadata = raw.get("metadata") or {}
        invoice_id = str(metadata.get("invoice_id") or raw.get("client_reference_id") or "")
        return CheckoutResult(
            reference=raw["id"],
            paid=raw.get("payment_status") == "paid",
            payment_reference=raw.get("payment_intent") or "",
            amount_minor=raw.get("amount_total") or 0,
            currency=(raw.get("currency") or "").upper(),
            invoice_id=int(invoice_id) if invoice_id.isdigit() else None,
            raw=raw,
        )

    def refund(
        self, *, payment_reference: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> RefundResult:
        """Refund part or all of a PaymentIntent; the result carries the charge's total
        refunded so far (this refund included)."""
        try:
            refund = self.client.v1.refunds.create(
                {
                    "payment_intent": payment_reference,
                    "amount": amount_minor,
                    "reason": "requested_by_customer",
                },
                {"idempotency_key": idempotency_key},
            )
            # Not expanded, so an id; set on every card refund (the only kind taken here).
            if not isinstance(refund.charge, str):
                raise ValueError(f"Stripe refund {refund.id} names no charge.")
            charge = self.client.v1.charges.retrieve(refund.charge)
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return RefundResult(refund.id, amount_minor, charge.amount_refunded)

    def recent_payments(self, *, since: int) -> list[PaymentSucceeded]:
        """Succeeded PaymentIntents created since the unix time `since`, all pages."""
        try:
            page = self.client.v1.payment_intents.list({"created": {"gte": since}, "limit": 100})
            intents = [intent.to_dict() for intent in page.auto_paging_iter()]
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return [
            PaymentSucceeded(
                gateway=NAME,
                reference=intent["id"],
                amount=money_from_minor_units(
                    intent.get("amount_received") or intent["amount"], intent["currency"].upper()
                ),
                method=self.recorded_method,
                invoice_id=_invoice_id_of(intent),
                raw=intent,
            )
            for intent in intents
            if intent.get("status") == "succeeded"
        ]

    def recent_refunds(self, *, since: int) -> list[RefundReported]:
        """Succeeded refunds created since the unix time `since`, each with its charge's
        total refunded (one charge look-up per refunded charge)."""
        try:
            page = self.client.v1.refunds.list({"created": {"gte": since}, "limit": 100})
            refunds = [refund.to_dict() for refund in page.auto_paging_iter()]
            totals = {
                charge: self.client.v1.charges.retrieve(charge).amount_refunded
                for charge in {r["charge"] for r in refunds if r.get("charge")}
            }
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return [
            RefundReported(
                gateway=NAME,
                payment_reference=refund["payment_intent"],
                refund_reference=refund["id"],
                amount=money_from_minor_units(refund["amount"], refund["currency"].upper()),
                refunded_total=money_from_minor_units(
                    totals[refund["charge"]], refund["currency"].upper()
                ),
            )
            for refund in refunds
            if refund.get("status") == "succeeded"
            and refund.get("payment_intent")
            and refund.get("charge")
        ]

    def setup_start(
        self, *, customer_reference: str, success_url: str, cancel_url: str, idempotency_key: str
    ) -> CheckoutStart:
        """A hosted page where the customer saves a card for later (a SetupIntent)."""
        params: SessionCreateParams = {
            "mode": "setup",
            "customer": customer_reference,
            # The SDK's types (API 2026-10-28) list only allowed_payment_method_types; the
            # key the portal has always sent stays until that switch is made on purpose.
            "payment_method_types": ["card"],  # type: ignore[typeddict-unknown-key]
            "setup_intent_data": {"metadata": {"purpose": "saved_card"}},
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        try:
            session = self.client.v1.checkout.sessions.create(
                params, {"idempotency_key": idempotency_key}
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        if session.url is None:  # Stripe gives every hosted Checkout Session its page
            raise ValueError(f"Stripe Checkout Session {session.id} has no url.")
        return CheckoutStart(reference=session.id, redirect_url=session.url)

    def setup_result(self, *, reference: str) -> SavedCard | None:
        """The card saved by a setup session, or None if the customer did not finish."""
        try:
            session = self.client.v1.checkout.sessions.retrieve(
                reference, {"expand": ["setup_intent.payment_method"]}
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        intent = session.to_dict().get("setup_intent") or {}
        if not isinstance(intent, dict) or intent.get("status") != "succeeded":
            return None
        return _card(intent["payment_method"])

    def payment_method(self, *, reference: str) -> SavedCard:
        try:
            method = self.client.v1.payment_methods.retrieve(reference)
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return _card(method.to_dict())

    def payment_method_detach(self, *, reference: str) -> None:
        try:
            self.client.v1.payment_methods.detach(reference)
        except stripe.InvalidRequestError as exc:
            if exc.code != "resource_missing":  # already gone at Stripe: nothing to undo
                raise _translate(exc) from exc
        except stripe.StripeError as exc:
            raise _translate(exc) from exc

    def customer_set_default(self, *, customer_reference: str, method_reference: str) -> None:
        try:
            self.client.v1.customers.update(
                customer_reference,
                {"invoice_settings": {"default_payment_method": method_reference}},
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from exc

    def charge_off_session(
        self,
        *,
        customer_reference: str,
        method_reference: str,
        amount_minor: int,
        currency: str,
        invoice_id: int,
        idempotency_key: str,
    ) -> OffSessionResult:
        params: PaymentIntentCreateParams = {
            "amount": amount_minor,
            "currency": currency.lower(),
            "customer": customer_reference,
            "payment_method": method_reference,
            "off_session": True,
            "confirm": True,
            "metadata": {"invoice_id": str(invoice_id)},
        }
        try:
            intent = self.client.v1.payment_intents.create(
                params, {"idempotency_key": idempotency_key}
            )
        except stripe.CardError as exc:
            body = exc.json_body if isinstance(exc.json_body, dict) else {}
            error = body.get("error", {})
            reference = (error.get("payment_intent") or {}).get("id", "")
            outcome = (
                "authentication_required" if exc.code == "authentication_required" else "declined"
            )
            return OffSessionResult(outcome, reference, exc.user_message or "")
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        if intent.status == "succeeded":
            return OffSessionResult("succeeded", intent.id, raw={"payment_intent": intent.id})
        if intent.status == "requires_action":
            return OffSessionResult("authentication_required", intent.id)
        return OffSessionResult("declined", intent.id, f"Payment is {intent.status}.")

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
    ) -> OnSessionResult:
        """Pay with a saved card while the customer is here; 3-D Secure comes back as
        `requires_action` with the bank's page to send them to (then `return_url`)."""
        params: PaymentIntentCreateParams = {
            "amount": amount_minor,
            "currency": currency.lower(),
            "customer": customer_reference,
            "payment_method": method_reference,
            # As in setup_start: not in the SDK's types, sent as before on purpose.
            "payment_method_types": ["card"],  # type: ignore[typeddict-unknown-key]
            "confirm": True,
            "return_url": return_url,
            "metadata": {"invoice_id": str(invoice_id)},
        }
        try:
            intent = self.client.v1.payment_intents.create(
                params, {"idempotency_key": idempotency_key}
            )
        except stripe.CardError as exc:
            body = exc.json_body if isinstance(exc.json_body, dict) else {}
            error = body.get("error", {})
            reference = (error.get("payment_intent") or {}).get("id", "")
            return OnSessionResult("declined", reference, message=exc.user_message or "")
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        raw = intent.to_dict()
        if raw["status"] == "succeeded":
            return OnSessionResult("succeeded", raw["id"], raw={"payment_intent": raw["id"]})
        action = raw.get("next_action") or {}
        if raw["status"] == "requires_action" and action.get("type") == "redirect_to_url":
            return OnSessionResult(
                "requires_action", raw["id"], redirect_url=action["redirect_to_url"]["url"]
            )
        return OnSessionResult("declined", raw["id"], message=f"Payment is {raw['status']}.")

    def charge_result(self, *, reference: str) -> CheckoutResult:
        """How a PaymentIntent ended, e.g. after the customer's 3-D Secure step."""
        try:
            raw = self.client.v1.payment_intents.retrieve(reference).to_dict()
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        invoice_id = str((raw.get("metadata") or {}).get("invoice_id", ""))
        return CheckoutResult(
            reference=raw["id"],
            paid=raw.get("status") == "succeeded",
            payment_reference=raw["id"],
            amount_minor=raw.get("amount_received") or raw.get("amount") or 0,
            currency=(raw.get("currency") or "").upper(),
            invoice_id=int(invoice_id) if invoice_id.isdigit() else None,
            raw=raw,
        )


def _invoice_id_of(obj: dict[str, Any]) -> int | None:
    value = str((obj.get("metadata") or {}).get("invoice_id", ""))
    return int(value) if value.isdigit() else None


def _card(method: dict[str, Any]) -> SavedCard:
    card = method.get("card") or {}
    return SavedCard(
        reference=method["id"],
        brand=card.get("brand", ""),
        last4=card.get("last4", ""),
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
        fingerprint=card.get("fingerprint") or "",
    )
