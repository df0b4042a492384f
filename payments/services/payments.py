"""Payment writes: recording a payment once, holding what cannot be applied, refunds.

Every function here that can make an invoice paid takes `settle`, the reaction to payment
(billing passes `billing.services.settlement.invoice_settled`; payments cannot import the
layer above it): it is called once, inside the paying transaction with the invoice locked,
when the recorded payment completes the invoice. Likewise every refund flow takes
`take_back`, what the refund takes back of what the invoice bought (billing passes
`billing.services.refunds.purchase_refunded`). Call them through billing.services.

Lock order (DESIGN.md): invoice before payment. `payment_record` locks the invoice first and
only then looks for an earlier record of the same provider reference, so concurrent reports
of one payment (webhook, return page, reconciliation) queue on the invoice row and the later
ones find the first one's record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Protocol, TypeVar, cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from accounts.models import Customer, User
from billing_portal.common.audit import audit_record
from billing_portal.common.db import in_batches, is_transient_conflict, retry_on_conflict
from billing_portal.common.money import money_from_minor_units, money_to_minor_units
from billing_portal.common.outbox import outbox_enqueue, outbox_enqueue_with_insert
from billing_portal.common.request import RequestMeta
from billing_portal.common.webhooks import WebhookEventType, webhook_emit
from credits.models import CreditEntry
from credits.services import credit_account_lock, credit_add
from invoices.locks import invoice_lock
from invoices.models import Invoice
from invoices.services import credit_note_issue, invoice_apply_payment, invoice_payment_problem
from payments.audit import PaymentAudit
from payments.errors import PaymentsError, RefundNotPossible
from payments.events import PaymentSucceeded, RefundReported
from payments.gateways import registry
from payments.gateways.base import (
    CheckoutResult,
    CustomerAccounts,
    Gateway,
    GatewayError,
    HostedCheckout,
    Reconciliation,
    Refunds,
    offers,
)
from payments.locks import payment_lock, webhook_event_claim
from payments.models import GatewayCustomer, Payment, PaymentAttempt, RefundRequest, WebhookEvent
from payments.services.receipts import payment_receipt_queue

logger = logging.getLogger(__name__)

Settle = Callable[[Invoice], None]
"""What follows an invoice becoming paid: billing.services.settlement.invoice_settled."""


class TakeBack(Protocol):
    """What a refund of a payment takes back of what its invoice bought (account credit, VPS
    tokens): billing.services.refunds.purchase_refunded, which payments cannot import. Called
    in the refund's transaction, with the credit account (when the invoice bought credit or
    tokens), the invoice and the payment locked."""

    def __call__(
        self,
        *,
        invoice: Invoice,
        amount: Money,
        refund_key: str,
        payment_reference: str,
        actor: User | None,
    ) -> object: ...


def _buys_wallet(invoice: Invoice) -> bool:
    """Whether the invoice bought credit or tokens, so that refunding a payment of it may take
    credit back and must lock the credit account before the invoice (the lock order)."""
    return invoice.kind in (Invoice.Kind.CREDIT_PURCHASE, Invoice.Kind.TOKEN_PURCHASE)


@retry_on_conflict
@transaction.atomic
def payment_record(
    *,
    invoice_id: int,
    gateway: str,
    reference: str,
    amount: Money,
    fee: Money | None = None,
    method: str = Payment.Method.OTHER,
    received_at: datetime | None = None,
    raw: dict[str, Any] | None = None,
    actor: User | None = None,
    meta: RequestMeta | None = None,
    settle: Settle,
) -> Payment:
    """Record a payment for an invoice and apply it, exactly once per (gateway, reference).

    Returns the existing record when this reference was recorded before. A payment above
    what is due pays the invoice and the rest becomes account credit. A payment in another
    currency, or for an invoice that is no longer payable, is stored `held` with the reason
    and not applied.
    """
    credit_locked = _credit_account_lock_first(invoice_id, amount)
    invoice = invoice_lock(invoice_id, related=("customer",))
    existing = Payment.objects.filter(gateway=gateway, reference=reference).first()
    if existing is not None:
        return existing
    problem = invoice_payment_problem(invoice, amount, allow_excess=credit_locked)
    currency = str(amount.currency)
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                invoice=invoice,
                customer=invoice.customer,
                gateway=gateway,
                reference=reference,
                method=method,
                status=Payment.Status.HELD if problem else Payment.Status.APPLIED,
                currency=currency,
                amount=amount,
                fee=fee if fee is not None else Money(0, currency),
                amount_refunded=Money(0, currency),
                review_reason=problem or "",
                raw=raw or {},
                received_at=received_at or timezone.now(),
                recorded_by=actor,
            )
    except IntegrityError:
        # The same reference was recorded against another invoice: keep the first record.
        return Payment.objects.get(gateway=gateway, reference=reference)
    if problem is None:
        _apply(payment, invoice, actor=actor, settle=settle)
        payment_receipt_queue(payment)
    audit_record(
        action=PaymentAudit.PAYMENT_HELD if problem else PaymentAudit.PAYMENT_RECEIVED,
        actor=actor,
        customer=invoice.customer,
        target=payment,
        meta=meta,
        details={
            "invoice": invoice.number,
            "gateway": gateway,
            "reference": reference,
            "amount": str(amount),
            **({"reason": problem} if problem else {}),
        },
    )
    webhook_emit(WebhookEventType.PAYMENT_RECEIVED, payment, **payment_webhook_fields(payment))
    return payment


def payment_webhook_fields(payment: Payment) -> dict[str, Any]:
    """What outbound webhooks say about a payment (billing_portal/common/webhooks.py)."""
    return {
        "customer_id": payment.customer_id,
        "invoice_id": payment.invoice_id,
        "gateway": payment.gateway,
        "reference": payment.reference,
        "status": payment.status,
        "amount": payment.amount,
        "amount_refunded": payment.amount_refunded,
        "received_at": payment.received_at,
    }


def _credit_account_lock_first(invoice_id: int, amount: Money) -> bool:
    """Lock the customer's credit account before the invoice (the lock order) when this
    payment may write to it: a credit purchase, or more than is due. Decided on an unlocked
    read; if a concurrent payment changes the answer, the excess is held for staff."""
    peek = Invoice.objects.select_related("customer").get(pk=invoice_id)
    if _buys_wallet(peek):
        # A refund event carries its payment: the refund that follows in this transaction
        # may take credit or tokens back, so the account comes first here too.
        credit_account_lock(peek.customer, str(peek.currency))
    if str(amount.currency) != str(peek.currency) or peek.status != Invoice.Status.UNPAID:
        return False
    if peek.kind != Invoice.Kind.CREDIT_PURCHASE and amount <= peek.amount_due:
        return False
    credit_account_lock(peek.customer, str(peek.currency))
    return True


def _apply(payment: Payment, invoice: Invoice, *, actor: User | None, settle: Settle) -> None:
    applied = min(payment.amount, invoice.amount_due)
    paid = invoice_apply_payment(
        invoice_id=invoice.pk,
        amount=applied,
        paid_at=payment.received_at,
        actor=actor,
        reference=f"{payment.gateway}:{payment.reference}",
    )
    if paid.status == Invoice.Status.PAID:  # it was unpaid: this payment completed it
        settle(paid)
    if payment.amount > applied:
        _overpayment_credit(payment, invoice, payment.amount - applied)


def _overpayment_credit(payment: Payment, invoice: Invoice, excess: Money) -> None:
    """The part of a payment above what its invoice asked for becomes account credit, once
    per payment. payment_record holds the credit account's lock, taken first."""
    credit_add(
        customer=invoice.customer,
        amount=excess,
        kind=CreditEntry.Kind.OVERPAYMENT,
        idempotency_key=f"payment:{payment.pk}:overpayment",
        description=f"Overpayment of invoice {invoice.number}",
        payment_reference=f"{payment.gateway}:{payment.reference}",
        details={"source": "overpayment", "invoice": invoice.number},
    )


def _refund_lock(payment_id: int) -> Payment:
    """Lock what a refund changes, in the lock order: the customer's credit account when
    the invoice bought credit or tokens (the refund may take them back), the invoice, then
    the payment. An invoice's kind never changes, so it is read before locking."""
    payment = Payment.objects.select_related("invoice__customer").get(pk=payment_id)
    invoice = payment.invoice
    if _buys_wallet(invoice):
        credit_account_lock(invoice.customer, str(invoice.currency))
    invoice_lock(invoice.pk)
    return payment_lock(payment_id)


@retry_on_conflict
@transaction.atomic
def payment_refund_record(
    *,
    payment_id: int,
    amount: Money,
    reason: str,
    actor: User | None = None,
    via: str = "record",
    take_back: TakeBack,
) -> Payment:
    """Book a refund that already happened (by bank transfer, or reported by the gateway:
    `via`): for an applied payment a credit note is issued on its invoice, and what the
    payment bought into the wallet (account credit, VPS tokens) is taken back in the same
    transaction, the part that cannot be becoming a staff item. The customer's services
    are not touched: a refund is not a termination."""
    payment = _refund_lock(payment_id)
    refundable = payment.amount - payment.amount_refunded
    if str(amount.currency) != str(payment.currency) or not 0 < amount.amount <= refundable.amount:
        raise RefundNotPossible(f"The refund must be more than zero and at most {refundable}.")
    if not reason.strip():
        raise RefundNotPossible("Give the reason for the refund.")
    if payment.status != Payment.Status.HELD:
        credit_note_issue(invoice_id=payment.invoice_id, amount=amount, reason=reason, actor=actor)
        take_back(
            invoice=Invoice.objects.select_related("customer").get(pk=payment.invoice_id),
            amount=amount,
            refund_key=f"payment-{payment.pk}-to-{payment.amount_refunded + amount}",
            payment_reference=f"{payment.gateway}:{payment.reference}",
            actor=actor,
        )
    payment.amount_refunded = payment.amount_refunded + amount
    if payment.amount_refunded == payment.amount:
        payment.status = Payment.Status.REFUNDED
    elif payment.status != Payment.Status.HELD:
        payment.status = Payment.Status.PARTIALLY_REFUNDED
    payment.save(update_fields=["amount_refunded", "status"])
    audit_record(
        action=PaymentAudit.PAYMENT_REFUNDED,
        actor=actor,
        customer=payment.customer,
        target=payment,
        details={"amount": str(amount), "reason": reason.strip(), "via": via},
    )
    fields = payment_webhook_fields(payment)
    webhook_emit(WebhookEventType.PAYMENT_REFUNDED, payment, refunded_now=amount, **fields)
    return payment


@retry_on_conflict
@transaction.atomic
def payment_refund_sync(
    *, payment_id: int, refunded_total: Money, reason: str, via: str, take_back: TakeBack
) -> Payment:
    """Bring our refunded amount up to the provider's cumulative total for this payment.

    Both the provider's refund events and our own refund calls end here, and the difference
    is taken under the payment's lock, so a refund reported twice, late or out of order is
    booked once."""
    payment = _refund_lock(payment_id)
    missing = refunded_total - payment.amount_refunded
    if missing.amount <= 0:
        return payment
    return payment_refund_record(
        payment_id=payment.pk, amount=missing, reason=reason, via=via, take_back=take_back
    )


def payment_refund_via_gateway(
    *,
    payment_id: int,
    amount: Money,
    reason: str,
    actor: User | None = None,
    take_back: TakeBack,
) -> RefundRequest:
    """Ask the payment's provider to return money, then book it (credit note included).

    The request row is committed before the call (its id is the idempotency key); the
    booking goes through payment_refund_sync, so the provider's refund webhook, whenever it
    arrives, finds the refund already booked or books it itself, never twice."""
    payment = Payment.objects.get(pk=payment_id)
    gateway = registry.gateway_named_with(payment.gateway, Refunds)
    if gateway is None:
        raise RefundNotPossible(f"Payments by {payment.gateway} cannot be refunded from here.")
    refundable = payment.amount - payment.amount_refunded
    if str(amount.currency) != str(payment.currency) or not 0 < amount.amount <= refundable.amount:
        raise RefundNotPossible(f"The refund must be more than zero and at most {refundable}.")
    if not reason.strip():
        raise RefundNotPossible("Give the reason for the refund.")
    request = RefundRequest.objects.create(
        payment=payment,
        currency=str(amount.currency),
        amount=amount,
        reason=reason.strip(),
        requested_by=actor,
    )
    try:
        result = gateway.refund(
            payment_reference=payment.reference,
            amount_minor=money_to_minor_units(amount),
            currency=str(payment.currency),
            idempotency_key=request.idempotency_key,
        )
    except GatewayError as error:
        request.status, request.error = RefundRequest.Status.FAILED, error.message
        request.save(update_fields=["status", "error"])
        raise RefundNotPossible(f"{payment.gateway} refused the refund: {error.message}") from error
    if result.total_minor is not None:
        payment_refund_sync(
            payment_id=payment.pk,
            refunded_total=money_from_minor_units(result.total_minor, str(payment.currency)),
            reason=reason.strip(),
            via=payment.gateway,
            take_back=take_back,
        )
        RefundRequest.objects.filter(pk=request.pk).update(
            status=RefundRequest.Status.SUCCEEDED, reference=result.reference
        )
    else:
        payment_refund_book_once(
            payment_id=payment.pk,
            reference=result.reference,
            amount=money_from_minor_units(result.amount_minor, str(payment.currency)),
            reason=reason.strip(),
            via=payment.gateway,
            request_id=request.pk,
            take_back=take_back,
        )
    request.refresh_from_db()
    return request


@retry_on_conflict
@transaction.atomic
def payment_refund_book_once(
    *,
    payment_id: int,
    reference: str,
    amount: Money,
    reason: str,
    via: str,
    request_id: int | None = None,
    take_back: TakeBack,
) -> bool:
    """Book one provider refund, identified by the provider's refund id, exactly once:
    whichever of our own refund call and the provider's refund notification gets here
    first books it, the other finds it booked. Returns whether this call booked it."""
    payment = _refund_lock(payment_id)
    booked = RefundRequest.objects.filter(
        payment=payment, reference=reference, status=RefundRequest.Status.SUCCEEDED
    ).exists()
    if not booked:
        payment_refund_record(
            payment_id=payment.pk, amount=amount, reason=reason, via=via, take_back=take_back
        )
    if request_id is not None:
        RefundRequest.objects.filter(pk=request_id).update(
            status=RefundRequest.Status.SUCCEEDED,
            reference="" if booked else reference,
            error="Booked from the provider's notification." if booked else "",
        )
    elif not booked:
        RefundRequest.objects.create(
            payment=payment,
            status=RefundRequest.Status.SUCCEEDED,
            currency=str(amount.currency),
            amount=amount,
            reason=reason,
            reference=reference,
        )
    return not booked


# --- Webhooks -----------------------------------------------------------------------------

WEBHOOK_MAX_ATTEMPTS = 8
WEBHOOK_PROCESS_TASK = "payments.webhook_event_process"


class WebhookHandlerFailed(Exception):
    """A handler raised; the event is stored as failed and the task retries it."""


def webhook_event_receive(
    *, provider: str, event_id: str, event_type: str, headers: dict[str, str], body: str
) -> tuple[WebhookEvent, bool]:
    """Store a verified delivery once; (event, False) for a redelivery, which writes nothing.
    Its processing is written to the outbox in the same statement: both are stored or
    neither (the provider then retries). It is published after commit, or by the relay once
    the broker is back or when no worker took it within the relay's grace; the processing
    task marks it delivered (`outbox_delivered`), so the request itself never updates it."""
    event = WebhookEvent(
        provider=provider, event_id=event_id, event_type=event_type, headers=headers, body=body
    )
    message = outbox_enqueue_with_insert(
        event, unique=("provider", "event_id"), task_name=WEBHOOK_PROCESS_TASK
    )
    if message is None:
        return WebhookEvent.objects.get(provider=provider, event_id=event_id), False
    return event, True


@retry_on_conflict
def webhook_event_process(
    *, webhook_event_id: int, handle: Callable[[Any], None]
) -> WebhookEvent | None:
    """Run the event's handler once (`handle`: billing.services.payments.gateway_event_handle,
    which records payments and refunds and hands the other events to payments.handlers).

    The event row is locked (skip_locked: another worker already on it wins), its gateway
    turns the stored payload into the portal's event, the handler's writes commit together
    with the `processed` status, and a failure rolls them back and records the error, then
    raises for a retry."""
    from payments.handlers import EventIgnored

    failure: Exception | None = None
    with transaction.atomic():
        event = webhook_event_claim(webhook_event_id)
        if event is None or event.status in (
            WebhookEvent.Status.PROCESSED,
            WebhookEvent.Status.IGNORED,
        ):
            return event
        event.attempts += 1
        try:
            with transaction.atomic():
                handle(
                    registry.webhook_event(event.provider, event.event_type, json.loads(event.body))
                )
        except EventIgnored as ignored:
            event.status, event.error = WebhookEvent.Status.IGNORED, str(ignored)
        except Exception as exc:  # any handler failure is recorded, then retried
            if is_transient_conflict(exc):
                raise  # the whole transaction is lost: run it all again
            logger.exception("webhook %s failed", event)
            failure = exc
            event.status, event.error = (
                WebhookEvent.Status.FAILED,
                f"{type(exc).__name__}: {exc}",
            )
        else:
            event.status, event.error = WebhookEvent.Status.PROCESSED, ""
        event.processed_at = timezone.now()
        event.save(update_fields=["status", "error", "attempts", "processed_at"])
    if failure is not None:
        raise WebhookHandlerFailed(event.error) from failure
    return event


def webhook_events_stale(*, older_than: timedelta = timedelta(minutes=5)) -> list[int]:
    """Events a dead worker or lost message left unprocessed, or failed ones with attempts
    left: the sweep task queues them again."""
    cutoff = timezone.now() - older_than
    return list(
        WebhookEvent.objects.filter(
            status__in=(WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED),
            attempts__lt=WEBHOOK_MAX_ATTEMPTS,
            received_at__lt=cutoff,
        ).values_list("pk", flat=True)
    )


def webhook_event_reprocess(*, webhook_event_id: int) -> bool:
    """Staff action: give a failed or ignored event another run; False for one whose
    payload was pruned (nothing left to run)."""
    event = WebhookEvent.objects.filter(pk=webhook_event_id)
    if event.filter(body=PRUNED).exists():
        return False
    with transaction.atomic():
        event.exclude(status=WebhookEvent.Status.PROCESSED).update(
            status=WebhookEvent.Status.RECEIVED, attempts=0
        )
        outbox_enqueue(WEBHOOK_PROCESS_TASK, [webhook_event_id])
    return True


PRUNED = ""  # the body of a delivery whose payload was pruned (a verified one is never empty)


def webhook_payloads_prune() -> int:
    """Blank the body and headers of deliveries processed or ignored more than
    WEBHOOK_RETENTION_DAYS ago; returns how many. The row stays: its (provider, event id)
    is what stops a redelivery, which providers send for days and staff can trigger for
    longer, from being run twice. Failed and unprocessed ones keep their payload for staff;
    what a payment was is kept on the payment."""
    cutoff = timezone.now() - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    done = (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED)
    old = WebhookEvent.objects.filter(status__in=done, received_at__lt=cutoff).exclude(body=PRUNED)
    return in_batches(old, lambda rows: rows.update(body=PRUNED, headers={}))


# --- Hosted checkout ----------------------------------------------------------------------

CHECKOUT_UNAVAILABLE = "This payment method is unavailable right now. Please try again shortly."


def gateway_customer_reference(*, customer: Customer, gateway: CustomerAccounts) -> str:
    """The provider's id for this customer, created at the provider on first use.

    The provider call runs outside any transaction and carries a key derived from our
    customer id, so two concurrent first payments get the same provider customer and one
    row stores it."""
    existing = GatewayCustomer.objects.filter(customer=customer, gateway=gateway.name).first()
    if existing is not None:
        return existing.reference
    reference = gateway.customer_create(
        portal_customer_id=customer.pk, email=customer.user.email, name=customer.name
    )
    record, _ = GatewayCustomer.objects.get_or_create(
        customer=customer, gateway=gateway.name, defaults={"reference": reference}
    )
    return record.reference


def _customer_reference(customer: Customer, gateway: HostedCheckout) -> str | None:
    """The provider's id for the customer, for a provider that keeps customer records."""
    if not offers(gateway, CustomerAccounts):
        return None
    return gateway_customer_reference(customer=customer, gateway=cast(CustomerAccounts, gateway))


def _return_path(gateway: HostedCheckout) -> str:
    """Where the provider sends the customer back: its own return page, with the query the
    provider fills in itself, if any (the reference comes back in
    `gateway.return_reference_parameter`)."""
    return f"{reverse(f'payments:{gateway.name}_return')}{gateway.return_query}"


def checkout_begin(*, invoice: Invoice, gateway_name: str, base_url: str) -> str:
    """Start paying `invoice` on the provider's page; returns the URL to send the customer to."""
    return checkout_begin_attempt(invoice=invoice, gateway_name=gateway_name, base_url=base_url)[1]


def checkout_begin_attempt(
    *, invoice: Invoice, gateway_name: str, base_url: str
) -> tuple[PaymentAttempt, str]:
    """Start paying `invoice` on the provider's page; returns the attempt (which the API
    confirms by its id later) and the URL to send the customer to.

    The attempt row is committed before the provider is called, so its id (the idempotency
    key) exists whatever happens next, and a failed call is on record."""
    gateway = registry.checkout_gateway(gateway_name)
    if gateway is None:
        raise PaymentsError("This payment method is not available.")
    if invoice.status != Invoice.Status.UNPAID:
        raise PaymentsError("This invoice has nothing left to pay.")
    attempt = PaymentAttempt.objects.create(
        invoice=invoice,
        customer=invoice.customer,
        gateway=gateway_name,
        currency=str(invoice.currency),
        amount=invoice.amount_due,
    )
    base = base_url.rstrip("/")
    try:
        start = gateway.checkout_start(
            invoice_id=invoice.pk,
            description=f"Invoice {invoice.number}",
            amount_minor=money_to_minor_units(invoice.amount_due),
            currency=str(invoice.currency),
            customer_reference=_customer_reference(invoice.customer, gateway),
            success_url=f"{base}{_return_path(gateway)}",
            cancel_url=f"{base}{reverse('payments:attempt_cancelled', args=[attempt.pk])}",
            idempotency_key=attempt.idempotency_key,
        )
    except GatewayError as error:
        attempt.status, attempt.error = PaymentAttempt.Status.FAILED, error.message
        attempt.save(update_fields=["status", "error"])
        raise PaymentsError(CHECKOUT_UNAVAILABLE) from error
    attempt.status, attempt.reference = PaymentAttempt.Status.REDIRECTED, start.reference
    attempt.save(update_fields=["status", "reference"])
    return attempt, start.redirect_url


def checkout_complete(
    *,
    customer: Customer,
    gateway_name: str,
    reference: str,
    meta: RequestMeta | None = None,
    settle: Settle,
) -> PaymentAttempt:
    """Confirm a checkout when the customer comes back, without waiting for the webhook.

    Raises PaymentAttempt.DoesNotExist for a checkout that is not this customer's. Records
    the payment (once, whichever of this and the webhook gets there first) when the
    provider says it is paid; otherwise leaves everything as it was. Checkouts the provider
    never answered have no reference: an empty one matches nothing."""
    attempt = (
        PaymentAttempt.objects.select_related("invoice")
        .exclude(reference="")
        .get(customer=customer, gateway=gateway_name, reference=reference)
    )
    gateway = registry.checkout_gateway(gateway_name)
    if gateway is None:
        raise PaymentsError("This payment method is not available.")
    try:
        result = gateway.checkout_result(reference=reference)
    except GatewayError as error:
        raise PaymentsError(
            "We could not confirm the payment yet; it will show here as soon as the "
            "provider tells us."
        ) from error
    return _checkout_record(
        attempt=attempt, result=result, customer=customer, gateway=gateway, meta=meta, settle=settle
    )


def _checkout_record(
    *,
    attempt: PaymentAttempt,
    result: CheckoutResult,
    customer: Customer,
    gateway: Gateway,
    meta: RequestMeta | None,
    settle: Settle,
) -> PaymentAttempt:
    """Record what the provider says about a customer-present payment: the shared tail of
    the return pages (hosted checkout, 3-D Secure)."""
    if not result.paid:
        return attempt
    if result.invoice_id != attempt.invoice_id:
        raise PaymentsError("This payment belongs to another invoice.")
    if attempt.invoice_id is None:  # the return pages are reached from an invoice's attempt
        raise PaymentsError("This payment is not for an invoice.")
    payment_record(
        invoice_id=attempt.invoice_id,
        gateway=gateway.name,
        reference=result.payment_reference,
        amount=money_from_minor_units(result.amount_minor, result.currency),
        method=gateway.recorded_method,
        raw=result.raw,
        actor=customer.user,
        meta=meta,
        settle=settle,
    )
    PaymentAttempt.objects.filter(pk=attempt.pk).update(status=PaymentAttempt.Status.COMPLETED)
    attempt.status = PaymentAttempt.Status.COMPLETED
    return attempt


def checkout_abandon(*, customer: Customer, attempt_id: int) -> PaymentAttempt:
    attempt = PaymentAttempt.objects.get(customer=customer, pk=attempt_id)
    PaymentAttempt.objects.filter(
        pk=attempt.pk, status__in=(PaymentAttempt.Status.STARTED, PaymentAttempt.Status.REDIRECTED)
    ).update(status=PaymentAttempt.Status.ABANDONED)
    return attempt


# --- Reconciliation -----------------------------------------------------------------------

RECONCILE_WINDOW = timedelta(days=3)
# What the gateways report is compared with the portal's rows this many at a time: two
# queries a batch (the payments, the invoices or refunds), whatever the window holds.
RECONCILE_BATCH = 500
T = TypeVar("T")


def _batches(items: Iterable[T], size: int = RECONCILE_BATCH) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def payments_reconcile(
    *, now: datetime | None = None, settle: Settle, take_back: TakeBack
) -> dict[str, int]:
    """Ask each enabled gateway for its recent successful payments and record those the
    portal missed (a webhook that never arrived). Recording is idempotent per reference, so
    payments we have are left as they are."""
    since = int(((now or timezone.now()) - RECONCILE_WINDOW).timestamp())
    counts = {"checked": 0, "recorded": 0, "skipped": 0, "refunds": 0}
    for gateway in registry.gateways_with(Reconciliation):
        for batch in _batches(gateway.recent_payments(since=since)):
            _payments_reconcile(gateway.name, batch, counts, settle)
        counts["refunds"] += _refunds_reconcile(gateway.name, gateway, since, take_back)
    logger.info("payments reconciliation: %s", counts)
    return counts


def _payments_reconcile(
    name: str, batch: list[PaymentSucceeded], counts: dict[str, int], settle: Settle
) -> None:
    """Record the payments of `batch` the portal does not have; which it has, and which
    invoices exist, are read for the whole batch. Each is recorded in its own transaction."""
    from payments.services.subscriptions import (
        SubscriptionPaymentUnmatched,
        subscription_payment_record,
    )

    references = [found.reference for found in batch]
    known = set(
        Payment.objects.filter(gateway=name, reference__in=references).values_list(
            "reference", flat=True
        )
    )
    invoice_ids = [found.invoice_id for found in batch if found.invoice_id]
    invoices = set(Invoice.objects.filter(pk__in=invoice_ids).values_list("pk", flat=True))
    for found in batch:
        counts["checked"] += 1
        if found.reference in known:
            continue
        if found.subscription_reference:
            try:
                subscription_payment_record(
                    gateway=name,
                    subscription_reference=found.subscription_reference,
                    sale_id=found.reference,
                    amount=found.amount,
                    method=found.method,
                    raw=found.raw,
                    settle=settle,
                )
            except SubscriptionPaymentUnmatched:
                counts["skipped"] += 1
                continue
        elif found.invoice_id in invoices:
            payment_record(
                invoice_id=found.invoice_id,
                gateway=name,
                reference=found.reference,
                amount=found.amount,
                method=found.method,
                raw=found.raw,
                settle=settle,
            )
        else:
            counts["skipped"] += 1
            continue
        known.add(found.reference)  # reported twice (pages overlapping): recorded once
        counts["recorded"] += 1


def _refunds_reconcile(name: str, gateway: Reconciliation, since: int, take_back: TakeBack) -> int:
    """Book the provider's refunds of our payments that the portal missed (a lost refund
    webhook, a refund made in the provider's dashboard); booking is once per refund, so
    those we have change nothing. Returns how many were booked now. The payments and the
    refunds booked are read for a batch; only a refund that is missing is booked, under
    its payment's locks, which decide again."""
    booked = 0
    reason = f"Refunded at {name} (found by reconciliation)"
    for batch in _batches(gateway.recent_refunds(since=since)):
        payments, have = _refunds_known(name, batch)
        for found in batch:
            payment = payments.get(found.payment_reference)
            if payment is None:
                continue  # a payment of another shop, or one reconciliation records next time
            if found.refunded_total is not None:
                if _refunded_up_to(payment, found.refunded_total):
                    continue  # the amount refunded only grows: nothing to book
                before = payment.amount_refunded
                payment = payment_refund_sync(
                    payment_id=payment.pk,
                    reason=reason,
                    via=name,
                    refunded_total=found.refunded_total,
                    take_back=take_back,
                )
                payments[found.payment_reference] = payment
                booked += int(payment.amount_refunded != before)
            elif found.amount is not None and (payment.pk, found.refund_reference) not in have:
                booked += payment_refund_book_once(
                    payment_id=payment.pk,
                    reference=found.refund_reference,
                    reason=reason,
                    via=name,
                    amount=found.amount,
                    take_back=take_back,
                )
                have.add((payment.pk, found.refund_reference))
    return booked


def _refunds_known(
    name: str, batch: list[RefundReported]
) -> tuple[dict[str, Payment], set[tuple[int, str]]]:
    """The portal's payments the refunds of `batch` are of (by reference), and the
    (payment, refund reference) pairs already booked among them."""
    references = {found.payment_reference for found in batch}
    payments = {
        payment.reference: payment
        for payment in Payment.objects.filter(gateway=name, reference__in=references).only(
            "pk", "reference", "currency", "amount_refunded"
        )
    }
    refund_references = {found.refund_reference for found in batch if found.refund_reference}
    have = set(
        RefundRequest.objects.filter(
            payment__in=[payment.pk for payment in payments.values()],
            reference__in=refund_references,
            status=RefundRequest.Status.SUCCEEDED,
        ).values_list("payment_id", "reference")
    )
    return payments, have


def _refunded_up_to(payment: Payment, total: Money) -> bool:
    """Whether the payment's refunded amount is already `total` or more (amounts of
    another currency are left to the booking, which refuses them)."""
    refunded = payment.amount_refunded
    return str(total.currency) == str(refunded.currency) and total.amount <= refunded.amount
