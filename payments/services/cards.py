"""Saved cards and off-session renewal charges, through the gateway that offers them.

Cards are saved on the provider's hosted page; the portal keeps only the reference and
display details, under the name of the gateway that holds the card, and each later call
about a card goes to that gateway. Renewal invoices are charged off-session on their due date
when the customer has a default card; when the bank asks for authentication (SCA) or
declines, the customer gets an email with a link to pay on-session.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TypeVar

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts.locks import customer_lock
from accounts.models import Customer
from billing_portal.common.audit import audit_record
from billing_portal.common.emails import email_send_on_commit
from billing_portal.common.money import money_to_minor_units
from invoices.models import Invoice
from payments.audit import PaymentAudit
from payments.errors import PaymentsError
from payments.gateways import registry
from payments.gateways.base import (
    GatewayError,
    GatewayUnavailable,
    OffSessionCharge,
    OnSessionCharge,
    SavedCard,
    SavedCards,
)
from payments.models import PaymentAttempt, SavedPaymentMethod
from payments.services import dunning
from payments.services.payments import (
    CHECKOUT_UNAVAILABLE,
    Settle,
    _checkout_record,
    gateway_customer_reference,
    payment_record,
)

logger = logging.getLogger(__name__)
NOT_AVAILABLE = "Saving cards is not available."
T = TypeVar("T")


def _saved_cards() -> SavedCards:
    """The enabled gateway new cards are saved with."""
    gateway = registry.gateway_with(SavedCards)
    if gateway is None:
        raise PaymentsError(NOT_AVAILABLE)
    return gateway


def _holding(name: str, capability: type[T]) -> T:
    """The gateway a card or attempt row names, for what it must do with that card."""
    gateway = registry.gateway_named_with(name, capability)
    if gateway is None:
        raise PaymentsError(NOT_AVAILABLE)
    return gateway


def card_setup_begin(*, customer: Customer, base_url: str) -> str:
    """Send the customer to the provider to save a card; returns the URL."""
    return card_setup_begin_attempt(customer=customer, base_url=base_url)[1]


def card_setup_begin_attempt(*, customer: Customer, base_url: str) -> tuple[PaymentAttempt, str]:
    """Start saving a card at the provider; returns the set-up attempt (which the API
    completes by its id later) and the URL of the provider's page."""
    gateway = _saved_cards()
    attempt = PaymentAttempt.objects.create(
        kind=PaymentAttempt.Kind.CARD_SETUP, customer=customer, gateway=gateway.name
    )
    base = base_url.rstrip("/")
    try:
        start = gateway.setup_start(
            customer_reference=gateway_customer_reference(customer=customer, gateway=gateway),
            success_url=f"{base}{reverse('payments:card_return')}{gateway.setup_return_query}",
            cancel_url=f"{base}{reverse('payments:card_list')}",
            idempotency_key=attempt.idempotency_key,
        )
    except GatewayError as error:
        attempt.status, attempt.error = PaymentAttempt.Status.FAILED, error.message
        attempt.save(update_fields=["status", "error"])
        raise PaymentsError(CHECKOUT_UNAVAILABLE) from error
    attempt.status, attempt.reference = PaymentAttempt.Status.REDIRECTED, start.reference
    attempt.save(update_fields=["status", "reference"])
    return attempt, start.redirect_url


@transaction.atomic
def card_store(*, customer: Customer, gateway: str, card: SavedCard) -> SavedPaymentMethod:
    """Keep a card saved at `gateway` once (by reference); the customer's first card there
    becomes default."""
    customer_lock(customer.pk)
    method, created = SavedPaymentMethod.objects.get_or_create(
        gateway=gateway,
        reference=card.reference,
        defaults={
            "customer": customer,
            "brand": card.brand,
            "last4": card.last4,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
            "fingerprint": card.fingerprint,
        },
    )
    if (
        created
        and not SavedPaymentMethod.objects.filter(
            customer=customer, gateway=gateway, is_default=True
        ).exists()
    ):
        method.is_default = True
        method.save(update_fields=["is_default"])
    return method


def card_setup_complete(*, customer: Customer, reference: str) -> SavedPaymentMethod | None:
    """Store the card when the customer comes back; None if they did not finish."""
    # Set-ups the provider never answered have no reference: an empty one matches nothing.
    attempt = PaymentAttempt.objects.exclude(reference="").get(
        customer=customer, kind=PaymentAttempt.Kind.CARD_SETUP, reference=reference
    )
    gateway = _holding(attempt.gateway, SavedCards)
    try:
        card = gateway.setup_result(reference=reference)
    except GatewayError as error:
        raise PaymentsError(CHECKOUT_UNAVAILABLE) from error
    if card is None:
        return None
    PaymentAttempt.objects.filter(pk=attempt.pk).update(status=PaymentAttempt.Status.COMPLETED)
    return card_store(customer=customer, gateway=gateway.name, card=card)


def card_remove(*, customer: Customer, method_id: int) -> None:
    """Detach the card at its provider, then forget it; another card becomes default if
    needed."""
    method = SavedPaymentMethod.objects.get(customer=customer, pk=method_id)
    try:
        _holding(method.gateway, SavedCards).payment_method_detach(reference=method.reference)
    except GatewayError as error:
        raise PaymentsError("The card could not be removed right now; try again.") from error
    with transaction.atomic():
        customer_lock(customer.pk)
        was_default = method.is_default
        method.delete()
        successor = SavedPaymentMethod.objects.filter(
            customer=customer, gateway=method.gateway
        ).first()
        if was_default and successor is not None:
            successor.is_default = True
            successor.save(update_fields=["is_default"])


def cards_remove_all(*, customer: Customer) -> int:
    """Remove every saved card of the customer (their erasure): detached at each provider
    that offers saved cards, then forgotten. A card whose gateway is no longer enabled is
    forgotten only (the portal can no longer reach it). Stops at the first provider error,
    with the cards not yet removed kept, so a retry removes the rest. Returns how many."""
    methods = list(SavedPaymentMethod.objects.filter(customer=customer).order_by("pk"))
    for method in methods:
        gateway = registry.gateway_named_with(method.gateway, SavedCards)
        if gateway is not None:
            try:
                gateway.payment_method_detach(reference=method.reference)
            except GatewayError as error:
                raise PaymentsError(
                    f"The card {method} could not be removed at {method.gateway}; try again."
                ) from error
        SavedPaymentMethod.objects.filter(pk=method.pk).delete()
    return len(methods)


def card_set_default(*, customer: Customer, method_id: int) -> SavedPaymentMethod:
    method = SavedPaymentMethod.objects.get(customer=customer, pk=method_id)
    gateway = _holding(method.gateway, SavedCards)
    try:
        gateway.customer_set_default(
            customer_reference=gateway_customer_reference(customer=customer, gateway=gateway),
            method_reference=method.reference,
        )
    except GatewayError as error:
        raise PaymentsError("The default card could not be changed right now.") from error
    with transaction.atomic():
        customer_lock(customer.pk)
        SavedPaymentMethod.objects.filter(customer=customer, gateway=method.gateway).update(
            is_default=False
        )
        SavedPaymentMethod.objects.filter(pk=method.pk).update(is_default=True)
    method.is_default = True
    return method


# --- Off-session renewal charges ----------------------------------------------------------


def renewals_chargeable(*, today: date) -> QuerySet[Invoice]:
    """Unpaid renewal invoices with a try of the dunning schedule due today (the due date,
    then each DUNNING_RETRY_DAYS day) not made yet, whose customer has a default card and
    none of whose services is suspended or ended; an attempt left `started` (the provider
    did not answer) keeps its invoice here, so it is retried with the same idempotency key."""
    has_card = SavedPaymentMethod.objects.filter(
        customer=OuterRef("customer"), gateway__in=_off_session_names(), is_default=True
    )
    finished = PaymentAttempt.objects.filter(
        invoice=OuterRef("pk"),
        kind=PaymentAttempt.Kind.OFF_SESSION,
        attempt_number__gte=OuterRef("charge_try"),
    ).exclude(status=PaymentAttempt.Status.STARTED)
    return (
        Invoice.objects.filter(
            status=Invoice.Status.UNPAID, kind=Invoice.Kind.RENEWAL, due_date__lte=today
        )
        .annotate(charge_try=dunning.try_number_today(today))
        .filter(Exists(has_card))
        .exclude(Exists(finished))
        .exclude(dunning.not_charged_service())
    )


def _off_session_names() -> list[str]:
    """Gateways whose saved cards can be charged without the customer."""
    return registry.names_offering(OffSessionCharge)


def _notify(invoice: Invoice, template: str, message: str = "", next_try: str = "") -> None:
    email_send_on_commit(
        to=[invoice.customer.user.email],
        name=template,
        context={
            "customer_name": invoice.customer.name,
            "number": invoice.number,
            "amount_due": str(invoice.amount_due),
            "message": message,
            "invoice_path": f"/invoices/{invoice.pk}/",
            "next_try": next_try,
        },
    )


def _attempt_for_today(
    invoice: Invoice, card: SavedPaymentMethod, due: date
) -> PaymentAttempt | None:
    """The attempt to charge now: one left `started` (its key replays the provider's first
    answer), else today's try of the schedule, created and committed before the provider is
    called; None when no try is due, it was made already, or a service is suspended."""
    pending = PaymentAttempt.objects.filter(
        invoice=invoice, kind=PaymentAttempt.Kind.OFF_SESSION, status=PaymentAttempt.Status.STARTED
    ).first()
    if pending is not None:
        return pending
    number = dunning.charge_try_due(due=due, today=timezone.localdate())
    made = PaymentAttempt.objects.filter(
        invoice=invoice, kind=PaymentAttempt.Kind.OFF_SESSION, attempt_number__gte=number or 0
    )
    if number is None or made.exists() or dunning.invoice_bills_stopped_service(invoice):
        return None
    try:
        with transaction.atomic():
            return PaymentAttempt.objects.create(
                invoice=invoice,
                kind=PaymentAttempt.Kind.OFF_SESSION,
                attempt_number=number,
                customer=invoice.customer,
                gateway=card.gateway,
                currency=str(invoice.currency),
                amount=invoice.amount_due,
            )
    except IntegrityError:  # a concurrent run made this try
        return None


def _charge_failed(invoice: Invoice, attempt: PaymentAttempt, outcome: str, message: str) -> None:
    """Tell the customer (with a pay link and the next try's day) and audit the failure."""
    template = (
        "invoice_payment_action_required"
        if outcome == "authentication_required"
        else "invoice_payment_failed"
    )
    due, number = invoice.due_date, attempt.attempt_number + 1
    next_day = dunning.charge_try_day(due=due, number=number) if due else None
    _notify(invoice, template, message, next_day.isoformat() if next_day else "")
    audit_record(
        action=PaymentAudit.CARD_CHARGE_FAILED,
        customer=invoice.customer,
        target=attempt,
        details={
            "invoice": invoice.number,
            "try": attempt.attempt_number,
            "outcome": outcome,
            "message": message,
            "next_try": next_day.isoformat() if next_day else "",
        },
    )


def invoice_charge_off_session(*, invoice_id: int, settle: Settle) -> str:
    """Make today's try of charging one renewal invoice to the customer's default card.

    Each try's attempt row (unique per invoice and try number) is committed before the
    provider is called and makes the idempotency key: a retry after a lost answer replays
    the provider's first answer instead of charging again."""
    invoice = Invoice.objects.select_related("customer__user").get(pk=invoice_id)
    card = SavedPaymentMethod.objects.filter(
        customer=invoice.customer, gateway__in=_off_session_names(), is_default=True
    ).first()
    if invoice.status != Invoice.Status.UNPAID or card is None or invoice.due_date is None:
        return "skipped"
    attempt = _attempt_for_today(invoice, card, invoice.due_date)
    if attempt is None:
        return "skipped"
    gateway = _holding(attempt.gateway, OffSessionCharge)
    try:
        result = gateway.charge_off_session(
            customer_reference=gateway_customer_reference(
                customer=invoice.customer, gateway=gateway
            ),
            method_reference=card.reference,
            amount_minor=money_to_minor_units(attempt.amount),
            currency=attempt.currency,
            invoice_id=invoice.pk,
            idempotency_key=attempt.idempotency_key,
        )
    except GatewayUnavailable:
        return "retry later"  # the attempt stays `started`; the next run retries its key
    except GatewayError as error:
        result_outcome, message, reference, raw = "declined", error.message, "", {}
    else:
        result_outcome, message = result.outcome, result.message
        reference, raw = result.reference, result.raw
    with transaction.atomic():
        if result_outcome == "succeeded":
            payment_record(
                invoice_id=invoice.pk,
                gateway=gateway.name,
                reference=reference,
                amount=attempt.amount,
                method=gateway.recorded_method,
                raw={"off_session": True, "try": attempt.attempt_number, **raw},
                settle=settle,
            )
            status = PaymentAttempt.Status.COMPLETED
        else:
            _charge_failed(invoice, attempt, result_outcome, message)
            status = PaymentAttempt.Status.FAILED
        PaymentAttempt.objects.filter(pk=attempt.pk).update(
            status=status, reference=reference, error=message
        )
    return result_outcome


def renewals_charge_off_session(*, today: date, settle: Settle) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    for invoice_id in renewals_chargeable(today=today).values_list("pk", flat=True):
        try:
            outcome = invoice_charge_off_session(invoice_id=invoice_id, settle=settle)
        except Exception:  # one customer's failure must not stop the others
            logger.exception("off-session charge of invoice %s failed", invoice_id)
            outcome = "error"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


# --- Paying an invoice with a saved card, customer present --------------------------------


def saved_card_pay(
    *, invoice: Invoice, method_id: int, base_url: str, settle: Settle
) -> str | None:
    """Charge `invoice` to one of the customer's saved cards now.

    Returns None when it is paid, or the URL of the bank's 3-D Secure page when the bank
    wants the customer to confirm; the customer then comes back to the intent return page.
    Raises PaymentsError with the bank's message when the card is declined."""
    card = SavedPaymentMethod.objects.get(customer=invoice.customer, pk=method_id)
    if invoice.status != Invoice.Status.UNPAID:
        raise PaymentsError("This invoice has nothing left to pay.")
    gateway = _holding(card.gateway, OnSessionCharge)
    attempt = PaymentAttempt.objects.create(
        invoice=invoice,
        customer=invoice.customer,
        gateway=gateway.name,
        currency=str(invoice.currency),
        amount=invoice.amount_due,
    )
    try:
        result = gateway.charge_on_session(
            customer_reference=gateway_customer_reference(
                customer=invoice.customer, gateway=gateway
            ),
            method_reference=card.reference,
            amount_minor=money_to_minor_units(invoice.amount_due),
            currency=str(invoice.currency),
            invoice_id=invoice.pk,
            return_url=f"{base_url.rstrip('/')}{reverse(f'payments:{gateway.name}_intent_return')}",
            idempotency_key=attempt.idempotency_key,
        )
    except GatewayError as error:
        PaymentAttempt.objects.filter(pk=attempt.pk).update(
            status=PaymentAttempt.Status.FAILED, error=error.message
        )
        raise PaymentsError(CHECKOUT_UNAVAILABLE) from error
    if result.outcome == "declined":
        PaymentAttempt.objects.filter(pk=attempt.pk).update(
            status=PaymentAttempt.Status.FAILED, reference=result.reference, error=result.message
        )
        raise PaymentsError(f"Your card was declined. {result.message}".strip())
    PaymentAttempt.objects.filter(pk=attempt.pk).update(
        status=PaymentAttempt.Status.REDIRECTED, reference=result.reference
    )
    if result.outcome == "requires_action":
        return result.redirect_url
    payment_record(
        invoice_id=invoice.pk,
        gateway=gateway.name,
        reference=result.reference,
        amount=invoice.amount_due,
        method=gateway.recorded_method,
        raw={**result.raw, "on_session": True},
        actor=invoice.customer.user,
        settle=settle,
    )
    PaymentAttempt.objects.filter(pk=attempt.pk).update(status=PaymentAttempt.Status.COMPLETED)
    return None


def saved_card_pay_complete(
    *, customer: Customer, reference: str, settle: Settle
) -> PaymentAttempt:
    """The customer is back from their bank's 3-D Secure page: read the charge."""
    attempt = (
        PaymentAttempt.objects.select_related("invoice")
        .exclude(reference="")
        .get(
            customer=customer,
            gateway__in=registry.names_offering(OnSessionCharge),
            reference=reference,
        )
    )
    gateway = _holding(attempt.gateway, OnSessionCharge)
    try:
        result = gateway.charge_result(reference=reference)
    except GatewayError as error:
        raise PaymentsError(CHECKOUT_UNAVAILABLE) from error
    return _checkout_record(
        attempt=attempt, result=result, customer=customer, gateway=gateway, meta=None, settle=settle
    )
