"""Cancellation, the flow that spans apps: a customer (or staff on their behalf) cancels a
running service at the end of its paid period or at once.

- End of period: provisioning records the request and the service's end day, and automatic
  payments of the service (a PayPal subscription) are stopped; the billing run renews it
  no more and terminates it on that day (`run.services_end_due`), cancelling its unpaid
  renewals then. Until then the request can be withdrawn.
- Immediate: in one transaction, in the lock order (credit account, then the service's
  unpaid renewal invoices, then the service): the service is terminated (its panel gets
  the terminate operation), the request recorded completed, the unpaid renewals cancelled
  and, where the product allows it, the unused part of the paid period credited to the
  account (prorated by days in Decimal by `service_prorate`, as plan changes are; once per
  request by its idempotency key).
A double submit changes nothing the second time: the locked service has an open request
(returned as it is), or has ended with its completed request (returned).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils import timezone
from djmoney.money import Money

from accounts.models import Customer, User
from billing_portal.common.db import retry_on_conflict
from billing_portal.common.request import RequestMeta
from credits import services as credits
from credits.models import CreditEntry
from invoices.locks import invoices_lock_unpaid_renewals_of
from invoices.models import Invoice, InvoiceLine
from invoices.services.dunning import renewals_cancel_for_ended_service
from payments.services import subscriptions_cancel_for_service
from provisioning import services as provisioning
from provisioning.errors import CancellationRefused, ProvisioningError
from provisioning.models import CancellationRequest, Service

Kind = CancellationRequest.Kind


@dataclass(frozen=True)
class CancellationQuote:
    """What cancelling the service this way does, shown before the customer confirms."""

    service: Service
    kind: str
    effective_on: date
    refund: Money | None  # credited to the account; None: nothing is refunded
    days_left: int = 0
    days_in_period: int = 0
    unpaid_renewals: tuple[str, ...] = ()  # numbers of the invoices that will be cancelled

    @property
    def is_immediate(self) -> bool:
        return self.kind == Kind.IMMEDIATE


def _refund(service: Service, today: date) -> tuple[Money | None, int, int]:
    """The unused time of the paid period, when the product refunds it (None: nothing)."""
    if not service.product.refund_on_immediate_cancel:
        return None, 0, 0
    try:
        amount, days_left, days = provisioning.service_prorate(
            service=service, amount=service.recurring_amount, today=today
        )
    except ProvisioningError:  # one-time: no period to prorate
        return None, 0, 0
    return (amount if amount.amount > 0 else None), days_left, days


def _unpaid_renewal_numbers(service: Service) -> tuple[str, ...]:
    billing = InvoiceLine.objects.filter(service=service).values("invoice_id")
    numbers = (
        Invoice.objects.filter(
            pk__in=billing, status=Invoice.Status.UNPAID, kind=Invoice.Kind.RENEWAL
        )
        .order_by("pk")
        .values_list("number", flat=True)
    )
    return tuple(number for number in numbers if number)


def cancellation_quote(
    *, service: Service, kind: str, today: date | None = None
) -> CancellationQuote:
    """The quote (CancellationRefused when the service cannot be cancelled this way)."""
    today = today or timezone.localdate()
    provisioning.cancellation_check(service=service, kind=kind)
    effective_on = provisioning.cancellation_effective_on(service=service, kind=kind, today=today)
    refund, days_left, days = _refund(service, today) if kind == Kind.IMMEDIATE else (None, 0, 0)
    return CancellationQuote(
        service=service,
        kind=kind,
        effective_on=effective_on,
        refund=refund,
        days_left=days_left,
        days_in_period=days,
        unpaid_renewals=_unpaid_renewal_numbers(service) if kind == Kind.IMMEDIATE else (),
    )


def _check_choice(kind: str, reason: str) -> None:
    if kind not in Kind.values:
        raise CancellationRefused("Choose when the service should end.")
    if reason not in CancellationRequest.Reason.values:
        raise CancellationRefused("Choose a reason for cancelling.")


@retry_on_conflict
@transaction.atomic
def service_cancellation_request(
    *,
    customer: Customer | None,
    service_id: int,
    kind: str,
    reason: str,
    reason_text: str = "",
    actor: User | None = None,
    meta: RequestMeta | None = None,
    today: date | None = None,
) -> CancellationRequest:
    """Cancel the customer's service (`customer=None`: staff, any customer's): see the
    module docstring. Service.DoesNotExist for another customer's service;
    CancellationRefused (nothing changed) when it cannot be cancelled this way."""
    _check_choice(kind, reason)
    today = today or timezone.localdate()
    reason_text = reason_text.strip()[:2000]
    peek = Service.objects.select_related("product").get(
        pk=service_id, **({"customer": customer} if customer is not None else {})
    )
    if kind == Kind.END_OF_PERIOD:
        service = provisioning.cancellation_service_lock(customer=customer, service_id=service_id)
        # Automatic payments (a PayPal subscription) would charge the period that never
        # comes: stopped after commit, as when a service ends (the call may fail: logged).
        transaction.on_commit(lambda: subscriptions_cancel_for_service(service_id), robust=True)
        return provisioning.cancellation_request_end_of_period(
            service=service,
            reason=reason,
            reason_text=reason_text,
            actor=actor,
            meta=meta,
            today=today,
        )
    refunds = peek.product.refund_on_immediate_cancel
    if refunds:  # it writes credit: the credit account is locked first (lock order)
        credits.credit_account_lock(peek.customer, str(peek.currency))
    invoices_lock_unpaid_renewals_of(service_id=service_id)  # before the service
    service = provisioning.cancellation_service_lock(customer=customer, service_id=service_id)
    if service.status == Service.Status.TERMINATED:
        latest = provisioning.cancellation_latest_of(service_id=service.pk)
        if latest is not None and latest.status == CancellationRequest.Status.COMPLETED:
            return latest  # a double submit: done already
    refund = _refund(service, today)[0] if refunds else None
    request = provisioning.cancellation_request_immediate(
        service=service,
        reason=reason,
        reason_text=reason_text,
        refund=refund,
        actor=actor,
        meta=meta,
        today=today,
    )
    # Its unpaid renewals bill periods the customer will not have.
    renewals_cancel_for_ended_service(service_id=service.pk)
    if refund is not None:
        credits.credit_add(
            customer=service.customer,
            amount=refund,
            kind=CreditEntry.Kind.REFUND_TO_CREDIT,
            idempotency_key=f"cancellation:{request.pk}:refund",
            description=f"Unused time of {service} (cancelled {today:%Y-%m-%d})",
            details={"source": "cancellation", "cancellation_request": request.pk},
        )
    return request


def service_cancellation_withdraw(
    *,
    customer: Customer | None,
    service_id: int,
    actor: User | None = None,
    meta: RequestMeta | None = None,
) -> CancellationRequest:
    """Withdraw an end-of-period cancellation (provisioning's: no money moves)."""
    return provisioning.cancellation_withdraw(
        customer=customer, service_id=service_id, actor=actor, meta=meta
    )
