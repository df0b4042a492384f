"""PayPal adapter (REST: OAuth2 client credentials, Orders v2, Payments v2, webhooks).

Network I/O only. The access token is cached (Django's cache, shared by every process)
until shortly before it expires; a 401 drops it and the call is retried once. Every POST
carries `PayPal-Request-Id` derived from our own record, so a retried call returns PayPal's
first answer instead of acting twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast
from urllib.parse import urlencode

import requests
from django.core.cache import cache
from djmoney.money import Money

from billing_portal.common.money import currency_exponent, money_from_minor_units
from payments.events import (
    NO_HANDLER,
    NO_INVOICE,
    GatewayEvent,
    Ignored,
    PaymentFailed,
    PaymentSucceeded,
    RefundReported,
    SubscriptionChanged,
    SubscriptionPaymentFailed,
)
from payments.gateways.base import (
    CheckoutResult,
    CheckoutStart,
    GatewayRejected,
    GatewayUnavailable,
    RefundResult,
    VerifiedEvent,
    WebhookInvalid,
)

NAME = "paypal"
METHOD = "paypal"  # Payment.Method of the payments PayPal takes

BASE_URLS = {"sandbox": "https://api-m.sandbox.paypal.com", "live": "https://api-m.paypal.com"}
TIMEOUT_SECONDS = 20
TOKEN_MARGIN_SECONDS = 120
WEBHOOK_HEADERS = {
    "auth_algo": "Paypal-Auth-Algo",
    "cert_url": "Paypal-Cert-Url",
    "transmission_id": "Paypal-Transmission-Id",
    "transmission_sig": "Paypal-Transmission-Sig",
    "transmission_time": "Paypal-Transmission-Time",
}


def amount_value(minor: int, exponent: int) -> str:
    """PayPal's amount string: the currency's decimals exactly ("25.00", "2500" for JPY)."""
    return str(Decimal(minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))


def minor_units(value: str, exponent: int) -> int:
    return int(Decimal(value).scaleb(exponent))


def _issue(body: dict[str, Any]) -> str:
    details = body.get("details") or [{}]
    return details[0].get("issue") or body.get("name") or "UNKNOWN"


# --- Webhook events -----------------------------------------------------------------------


def _money(
    amount: dict[str, Any], *, value: str = "value", currency: str = "currency_code"
) -> Money:
    code = amount[currency]
    return money_from_minor_units(minor_units(amount[value], currency_exponent(code)), code)


def _capture_completed(capture: dict[str, Any]) -> GatewayEvent:
    if capture.get("status") != "COMPLETED":
        return Ignored(f"Capture is {capture.get('status')}.")
    invoice_id = invoice_from_custom_id(capture.get("custom_id"))
    if invoice_id is None:
        return Ignored(NO_INVOICE)
    return PaymentSucceeded(
        gateway=NAME,
        reference=capture["id"],
        amount=_money(capture["amount"]),
        method=METHOD,
        invoice_id=invoice_id,
        raw=capture,
    )


def _capture_denied(capture: dict[str, Any]) -> GatewayEvent:
    invoice_id = invoice_from_custom_id(capture.get("custom_id"))
    if invoice_id is None:
        return Ignored(NO_INVOICE)
    return PaymentFailed(
        gateway=NAME,
        reference=capture.get("id", ""),
        invoice_id=invoice_id,
        details={"status": capture.get("status", "")},
    )


def _capture_id_of(refund: dict[str, Any]) -> str:
    for link in refund.get("links", []):
        if link.get("rel") == "up" and "/captures/" in link.get("href", ""):
            return cast(str, link["href"]).rstrip("/").rsplit("/", 1)[1]
    return ""


def _capture_refunded(refund: dict[str, Any]) -> GatewayEvent:
    """PayPal reports each refund on its own (no running total): booked once by its id."""
    return RefundReported(
        gateway=NAME,
        payment_reference=_capture_id_of(refund),
        refund_reference=refund["id"],
        amount=_money(refund["amount"]),
    )


def _subscription(status: str) -> Callable[[dict[str, Any]], GatewayEvent]:
    def translate(subscription: dict[str, Any]) -> GatewayEvent:
        return SubscriptionChanged(gateway=NAME, reference=subscription["id"], status=status)

    return translate


def _subscription_payment_failed(subscription: dict[str, Any]) -> GatewayEvent:
    return SubscriptionPaymentFailed(gateway=NAME, reference=subscription["id"])


def _sale_completed(sale: dict[str, Any]) -> GatewayEvent:
    """A subscription charge (the v1 Sale shape: `amount.total`, `amount.currency`)."""
    if sale.get("state") != "completed" or not sale.get("billing_agreement_id"):
        return Ignored("Not a completed subscription payment.")
    return PaymentSucceeded(
        gateway=NAME,
        reference=sale["id"],
        amount=_money(sale["amount"], value="total", currency="currency"),
        method=METHOD,
        subscription_reference=sale["billing_agreement_id"],
        raw=sale,
    )


EVENTS: dict[str, Callable[[dict[str, Any]], GatewayEvent]] = {
    "PAYMENT.CAPTURE.COMPLETED": _capture_completed,
    "PAYMENT.CAPTURE.DENIED": _capture_denied,
    "PAYMENT.CAPTURE.DECLINED": _capture_denied,
    "PAYMENT.CAPTURE.REFUNDED": _capture_refunded,
    "BILLING.SUBSCRIPTION.ACTIVATED": _subscription(SubscriptionChanged.ACTIVE),
    "BILLING.SUBSCRIPTION.CANCELLED": _subscription(SubscriptionChanged.ENDED),
    "BILLING.SUBSCRIPTION.EXPIRED": _subscription(SubscriptionChanged.ENDED),
    "BILLING.SUBSCRIPTION.PAYMENT.FAILED": _subscription_payment_failed,
    "PAYMENT.SALE.COMPLETED": _sale_completed,
}


def webhook_event(event_type: str, payload: dict[str, Any]) -> GatewayEvent:
    """The portal's event for a stored PayPal delivery (`resource` was checked to be an
    object when it was verified)."""
    translate = EVENTS.get(event_type)
    if translate is None:
        return Ignored(NO_HANDLER)
    return translate(payload["resource"])


def _unreachable(exc: requests.RequestException) -> GatewayUnavailable:
    # Only a connection never made is sure not to have reached PayPal.
    return GatewayUnavailable(
        f"PayPal is unreachable: {exc}",
        may_have_applied=not isinstance(exc, requests.ConnectTimeout),
    )


class PayPalGateway:
    """Hosted checkout (Orders v2), refunds, subscriptions, reconciliation (Transaction
    Search) and webhook events. No customer records, so no saved cards."""

    name = NAME
    label = "PayPal"
    display_name = "PayPal"
    recorded_method = METHOD
    # PayPal sends the customer back with `?token=<order id>` appended.
    return_reference_parameter = "token"
    return_query = ""
    handled_event_types = tuple(EVENTS)
    webhook_event = staticmethod(webhook_event)

    def __init__(self, *, client_id: str, client_secret: str, mode: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.base = BASE_URLS[mode]
        self.token_key = f"paypal:token:{mode}:{client_id}"

    # --- transport --------------------------------------------------------------------

    def _token(self) -> str:
        token: str | None = cache.get(self.token_key)
        if token:
            return token
        try:
            response = requests.post(
                f"{self.base}/v1/oauth2/token",
                auth=(self.client_id, self.client_secret),
                data={"grant_type": "client_credentials"},
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            raise GatewayUnavailable(f"PayPal is unreachable: {exc}") from exc
        if response.status_code != 200:
            raise GatewayUnavailable(
                f"PayPal refused the credentials ({response.status_code}).",
                status=response.status_code,
            )
        body = response.json()
        ttl = max(int(body.get("expires_in", 0)) - TOKEN_MARGIN_SECONDS, 1)
        cache.set(self.token_key, body["access_token"], ttl)
        return cast(str, body["access_token"])

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: str | None = None,
        request_id: str | None = None,
        prefer: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        for attempt in range(2):
            headers = {
                "Authorization": f"Bearer {self._token()}",
                "Content-Type": "application/json",
            }
            if request_id:
                headers["PayPal-Request-Id"] = request_id
            if prefer:
                headers["Prefer"] = prefer
            try:
                response = requests.request(
                    method,
                    f"{self.base}{path}",
                    data=body,
                    headers=headers,
                    timeout=TIMEOUT_SECONDS,
                )
            except requests.RequestException as exc:
                raise _unreachable(exc) from exc
            if response.status_code == 401 and attempt == 0:
                cache.delete(self.token_key)  # expired early: fetch a new one, once
                continue
            payload = response.json() if response.content else {}
            if response.status_code >= 500 or response.status_code == 429:
                raise GatewayUnavailable(
                    f"PayPal is unavailable ({response.status_code}).",
                    may_have_applied=response.status_code >= 500,
                    status=response.status_code,
                )
            return response.status_code, payload
        raise GatewayUnavailable("PayPal keeps refusing the access token.")

    def _ok(self, status: int, payload: dict[str, Any]) -> dict[str, Any]:
        if status >= 400:
            raise GatewayRejected(f"PayPal refused: {_issue(payload)}", status=status)
        return payload

    # --- hosted checkout ----------------------------------------------------------------

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
        order = {
            "intent": "CAPTURE",
            "purchase_units": [
                {
                    "reference_id": f"inv-{invoice_id}",
                    "custom_id": invoice_custom_id(invoice_id),
                    "description": description,
                    "amount": {
                        "currency_code": currency,
                        "value": amount_value(amount_minor, currency_exponent(currency)),
                    },
                }
            ],
            "payment_source": {
                "paypal": {
                    "experience_context": {
                        "return_url": success_url,
                        "cancel_url": cancel_url,
                        "user_action": "PAY_NOW",
                        "shipping_preference": "NO_SHIPPING",
                    }
                }
            },
        }
        status, payload = self._call(
            "POST", "/v2/checkout/orders", body=json.dumps(order), request_id=idempotency_key
        )
        payload = self._ok(status, payload)
        links = {link["rel"]: link["href"] for link in payload.get("links", [])}
        approve = links.get("payer-action") or links.get("approve")
        if not approve:
            raise GatewayRejected("PayPal returned no approval link.")
        return CheckoutStart(reference=payload["id"], redirect_url=approve)

    def checkout_result(self, *, reference: str) -> CheckoutResult:
        """Capture the approved order (the customer is back), or read the capture made
        before; a declined or pending capture is reported as not paid."""
        status, payload = self._call(
            "POST",
            f"/v2/checkout/orders/{reference}/capture",
            body="{}",
            request_id=f"capture-{reference}",
            prefer="return=representation",
        )
        if status == 422 and _issue(payload) == "ORDER_ALREADY_CAPTURED":
            status, payload = self._call("GET", f"/v2/checkout/orders/{reference}")
        if status == 422 and _issue(payload) in ("INSTRUMENT_DECLINED", "ORDER_NOT_APPROVED"):
            return CheckoutResult(reference, False, "", 0, "", None, payload)
        payload = self._ok(status, payload)
        capture = _first_capture(payload)
        if capture is None:
            return CheckoutResult(reference, False, "", 0, "", None, payload)
        currency = capture["amount"]["currency_code"]
        return CheckoutResult(
            reference=reference,
            paid=capture.get("status") == "COMPLETED",
            payment_reference=capture["id"],
            amount_minor=minor_units(capture["amount"]["value"], currency_exponent(currency)),
            currency=currency,
            invoice_id=invoice_from_custom_id(capture.get("custom_id")),
            raw=payload,
        )

    def recent_payments(self, *, since: int) -> list[PaymentSucceeded]:
        """Completed incoming transactions since the unix time `since` (Transaction Search;
        it can lag up to three hours, hence the reconciliation's wider window)."""
        found = (_provider_payment(info) for info in self._transactions(since=since))
        return [payment for payment in found if payment is not None]

    def recent_refunds(self, *, since: int) -> list[RefundReported]:
        """Completed refunds and reversals of our captures since the unix time `since`."""
        found = (_provider_refund(info) for info in self._transactions(since=since))
        return [refund for refund in found if refund is not None]

    def _transactions(self, *, since: int) -> list[dict[str, Any]]:
        """The `transaction_info` of every completed transaction since `since`, all pages."""
        start = datetime.fromtimestamp(since, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        end = datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        infos: list[dict[str, Any]] = []
        page, pages = 1, 1
        while page <= pages:
            query = urlencode(
                {
                    "start_date": start,
                    "end_date": end,
                    "transaction_status": "S",
                    "fields": "transaction_info",
                    "page_size": 500,
                    "page": page,
                }
            )
            status, payload = self._call("GET", f"/v1/reporting/transactions?{query}")
            payload = self._ok(status, payload)
            pages = int(payload.get("total_pages") or 1)
            page += 1
            infos += [
                d.get("transaction_info") or {} for d in payload.get("transaction_details", [])
            ]
        return infos

    def refund(
        self,
        *,
        payment_reference: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
    ) -> RefundResult:
        """Refund part of a capture. PayPal reports each refund on its own (no running
        total), so the result carries the refund's id for booking it exactly once."""
        value = amount_value(amount_minor, currency_exponent(currency))
        body = {"amount": {"value": value, "currency_code": currency}}
        status, payload = self._call(
            "POST",
            f"/v2/payments/captures/{payment_reference}/refund",
            body=json.dumps(body),
            request_id=idempotency_key,
        )
        payload = self._ok(status, payload)
        if payload.get("status") in ("FAILED", "CANCELLED"):
            raise GatewayRejected(f"PayPal refund {payload.get('status', '').lower()}.")
        return RefundResult(reference=payload["id"], amount_minor=amount_minor, total_minor=None)

    # --- subscriptions -----------------------------------------------------------------

    def plan_create(
        self,
        *,
        name: str,
        months: int,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
    ) -> tuple[str, str]:
        """A catalog product and an active billing plan for it; returns (product id, plan id)."""
        product = {"name": name[:127], "type": "SERVICE", "category": "SOFTWARE"}
        status, payload = self._call(
            "POST",
            "/v1/catalogs/products",
            body=json.dumps(product),
            request_id=f"{idempotency_key}-product",
        )
        product_id = self._ok(status, payload)["id"]
        unit, count = INTERVALS[months]
        value = amount_value(amount_minor, currency_exponent(currency))
        plan = {
            "product_id": product_id,
            "name": name[:127],
            "status": "ACTIVE",
            "billing_cycles": [
                {
                    "frequency": {"interval_unit": unit, "interval_count": count},
                    "tenure_type": "REGULAR",
                    "sequence": 1,
                    "total_cycles": 0,
                    "pricing_scheme": {"fixed_price": {"value": value, "currency_code": currency}},
                }
            ],
            "payment_preferences": {"auto_bill_outstanding": True, "payment_failure_threshold": 3},
        }
        status, payload = self._call(
            "POST",
            "/v1/billing/plans",
            body=json.dumps(plan),
            request_id=f"{idempotency_key}-plan",
        )
        return product_id, self._ok(status, payload)["id"]

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
    ) -> CheckoutStart:
        """A subscription starting at `start_time` (the service's next due date, so the
        period already paid is not charged again); returns its id and approval link."""
        body = {
            "plan_id": plan_reference,
            "custom_id": custom_id,
            "start_time": start_time,
            "subscriber": {"email_address": email},
            "application_context": {
                "user_action": "SUBSCRIBE_NOW",
                "shipping_preference": "NO_SHIPPING",
                "return_url": return_url,
                "cancel_url": cancel_url,
            },
        }
        status, payload = self._call(
            "POST", "/v1/billing/subscriptions", body=json.dumps(body), request_id=idempotency_key
        )
        payload = self._ok(status, payload)
        approve = _link(payload, "approve")
        if not approve:
            raise GatewayRejected("PayPal returned no approval link.")
        return CheckoutStart(reference=payload["id"], redirect_url=approve)

    def subscription_is_active(self, *, reference: str) -> bool:
        """Whether the customer approved the subscription (PayPal has it on)."""
        status, payload = self._call("GET", f"/v1/billing/subscriptions/{reference}")
        return self._ok(status, payload).get("status", "") in ("ACTIVE", "APPROVED")

    def subscription_cancel(self, *, reference: str, reason: str) -> None:
        status, payload = self._call(
            "POST",
            f"/v1/billing/subscriptions/{reference}/cancel",
            body=json.dumps({"reason": reason[:128]}),
        )
        if status == 422 and _issue(payload) == "SUBSCRIPTION_STATUS_INVALID":
            return  # already cancelled or expired at PayPal
        self._ok(status, payload)


# Subscriptions ------------------------------------------------------------------------

INTERVALS = {1: ("MONTH", 1), 3: ("MONTH", 3), 6: ("MONTH", 6), 12: ("YEAR", 1), 24: ("YEAR", 2)}


def invoice_custom_id(invoice_id: int) -> str:
    return f"invoice-{invoice_id}"


def invoice_from_custom_id(value: object) -> int | None:
    """Our invoice id from a custom_id we set ("invoice-42"); None for anything else
    (subscription charges carry "service-<id>")."""
    text = str(value or "")
    number = text.removeprefix("invoice-")
    return int(number) if text.startswith("invoice-") and number.isdigit() else None


def _provider_payment(info: dict[str, Any]) -> PaymentSucceeded | None:
    amount = info.get("transaction_amount") or {}
    if info.get("transaction_status") != "S" or not amount.get("value"):
        return None
    currency = amount["currency_code"]
    minor = minor_units(amount["value"], currency_exponent(currency))
    if minor <= 0:  # refunds and fees are negative
        return None
    subscription = (
        info.get("paypal_reference_id", "") if info.get("paypal_reference_id_type") == "SUB" else ""
    )
    return PaymentSucceeded(
        gateway=NAME,
        reference=info["transaction_id"],
        amount=money_from_minor_units(minor, currency),
        method=METHOD,
        invoice_id=invoice_from_custom_id(info.get("custom_field")),
        subscription_reference=subscription,
        raw=info,
    )


# Transaction event codes of money going back to the buyer from one of our captures: a
# refund the merchant made (T1107) and a reversal PayPal made (T1106).
REFUND_EVENT_CODES = ("T1106", "T1107")


def _provider_refund(info: dict[str, Any]) -> RefundReported | None:
    amount = info.get("transaction_amount") or {}
    if (
        info.get("transaction_status") != "S"
        or info.get("transaction_event_code") not in REFUND_EVENT_CODES
        or info.get("paypal_reference_id_type") != "TXN"
        or not amount.get("value")
    ):
        return None
    currency = amount["currency_code"]
    return RefundReported(
        gateway=NAME,
        payment_reference=info["paypal_reference_id"],
        refund_reference=info["transaction_id"],
        amount=money_from_minor_units(
            abs(minor_units(amount["value"], currency_exponent(currency))), currency
        ),
    )


def _link(payload: dict[str, Any], rel: str) -> str:
    return next((link["href"] for link in payload.get("links", []) if link["rel"] == rel), "")


def _first_capture(order: dict[str, Any]) -> dict[str, Any] | None:
    for unit in order.get("purchase_units", []):
        captures = (unit.get("payments") or {}).get("captures") or []
        if captures:
            return cast(dict[str, Any], captures[0])
    return None


class PayPalWebhookVerifier:
    """Verification through PayPal's verify-webhook-signature API. The event is passed to
    PayPal exactly as received (spliced in as raw text), since re-serialising it is a known
    cause of false failures."""

    name = NAME

    def __init__(self, *, gateway: PayPalGateway, webhook_id: str) -> None:
        self.gateway = gateway
        self.webhook_id = webhook_id

    def verify(self, *, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        values = {field: headers.get(header, "") for field, header in WEBHOOK_HEADERS.items()}
        missing = [header for field, header in WEBHOOK_HEADERS.items() if not values[field]]
        if missing:
            raise WebhookInvalid(f"Missing {', '.join(missing)} header.")
        try:
            text = body.decode("utf-8")
            event = json.loads(text)
        except (UnicodeDecodeError, ValueError) as exc:
            raise WebhookInvalid("Body is not valid JSON.") from exc
        if not (
            isinstance(event, dict)
            and isinstance(event.get("id"), str)
            and isinstance(event.get("event_type"), str)
            and isinstance(event.get("resource"), dict)
        ):
            raise WebhookInvalid("Body is not a PayPal event.")
        request = json.dumps({**values, "webhook_id": self.webhook_id})[:-1]
        request += f', "webhook_event": {text}}}'
        try:
            status, payload = self.gateway._call(
                "POST", "/v1/notifications/verify-webhook-signature", body=request
            )
        except GatewayUnavailable as exc:
            # Not a verdict on the delivery: answer non-2xx so PayPal delivers it again.
            raise WebhookInvalid("PayPal could not verify the signature right now.") from exc
        if status != 200 or payload.get("verification_status") != "SUCCESS":
            raise WebhookInvalid("PayPal signature verification failed.")
        return VerifiedEvent(event["id"], event["event_type"], event)
