"""Cancellation, the flow that spans apps: a customer (or staff on their behalf) cancels a
running service at the end of its paid period or at once.

- End of period: provisioning records the request and the service's end day, and automatic
  payments of the service (a PayPal subscription) are stopped; a renewal already issued
  for a period from that day (renewals go out days ahead) is cancelled at once, so it
  gets no reminders or late fees; the billing run renews it no more and terminates it on
  that day (`run.services_end_due`). Until then the request can be withdrawn: the
  cancelled renewal gave its period back (`InvoiceLine.period_released`), so the renewal
  is issued again, at once when it is within the renewal horizon.
- Immediate: in one transaction, in the lock order (credit account, then the service's
  unpaid renewal invoices, then the service): the service is terminated (its panel gets
  the terminate operation), the request recorded completed, the unpaid renewals cancelled
  and, where the product allows it, the unused part of the paid period credited to the
  account (prorated by days in Decimal by `service_prorate`, as plan changes are, at the
  rate the customer paid for the period: net of coupons, with its tax; nothing when the
  period was not paid; once per request by its idempotency key).
A double submit changes nothing the second time: the locked service has an open request
(returned as it is), or has ended with its completed request (returned).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone
from djmoney.money import Money

from accounts.models import Customer, User
from billing.services.run import renewals_issue_now
from billing_portal.common.db import retry_on_conflict
from billing_portal.common.request import RequestMeta
from credits import services as credits
from credits.models import CreditEntry
from invoices.locks import invoices_lock_unpaid_renewals_of
from invoices.models import Invoice, InvoiceLine
from invoices.selectors import service_period_paid_share
from invoices.services.dunning import renewals_cancel_for_cancellation
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
    """What the customer paid for the unused time of the current period, when the product
    refunds it (None: nothing; nor when that period was not paid): the plan's price for
    the days left (prorated as plan changes are, so a plan change since is counted), at
    the rate actually paid for the period: net of its recurring coupon, with its tax."""
    if not service.product.refund_on_immediate_cancel or service.next_due_date is None:
        return None, 0, 0
    share = service_period_paid_share(
        service_id=service.pk, period_end=service.next_due_date - timedelta(days=1)
    )
    if share is None:
        return None, 0, 0
    try:
        amount, days_left, days = provisioning.service_prorate(
            service=service, amount=service.recurring_amount * share, today=today
        )
    except ProvisioningError:  # one-time: no period to prorate
        return None, 0, 0
    return (amount if amount.amount > 0 else None), days_left, days


def _unpaid_renewal_numbers(service: Service, from_date: date | None) -> tuple[str, ...]:
    """The unpaid renewals the cancellation cancels: those billing periods from
    `from_date` (the end day; None: any)."""
    lines = InvoiceLine.objects.filter(service=service, kind=InvoiceLine.Kind.SERVICE)
    if from_date is not None:
        lines = lines.filter(period_start__gte=from_date)
    numbers = (
        Invoice.objects.filter(
            pk__in=lines.values("invoice_id"),
            status=Invoice.Status.UNPAID,
            kind=Invoice.Kind.RENEWAL,
        )
        .exclude(amount_paid__gt=0)  # as renewals_cancel_for_cancellation
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
        unpaid_renewals=_unpaid_renewal_numbers(
            service, None if kind == Kind.IMMEDIATE else service.ends_on or service.next_due_date
        ),
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
        return _end_of_period(customer, service_id, reason, reason_text, actor, meta, today)
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
    _renewals_cancel(service_id=service.pk, from_date=None, today=today)
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


def _end_of_period(
    customer: Customer | None,
    service_id: int,
    reason: str,
    reason_text: str,
    actor: User | None,
    meta: RequestMeta | None,
    today: date,
) -> CancellationRequest:
    """The end-of-period request: the unpaid renewals locked before the service (lock
    order), the request recorded, and the renewal of a period after the end day, issued
    days before it, cancelled: no reminders, no late fees, nothing to pay."""
    invoices_lock_unpaid_renewals_of(service_id=service_id)
    service = provisioning.cancellation_service_lock(customer=customer, service_id=service_id)
    # Automatic payments (a PayPal subscription) would charge the period that never
    # comes: stopped after commit, as when a service ends (the call may fail: logged).
    transaction.on_commit(lambda: subscriptions_cancel_for_service(service_id), robust=True)
    request = provisioning.cancellation_request_end_of_period(
        service=service,
        reason=reason,
        reason_text=reason_text,
        actor=actor,
        meta=meta,
        today=today,
    )
    service.refresh_from_db(fields=["ends_on"])
    _renewals_cancel(service_id=service.pk, from_date=service.ends_on, today=today)
    return request


def _renewals_cancel(*, service_id: int, from_date: date | None, today: date) -> None:
    """Cancel the service's unpaid renewals (of periods from `from_date`); the other
    services a combined one billed are billed again at once, on their own invoice."""
    others = renewals_cancel_for_cancellation(service_id=service_id, from_date=from_date)
    if others:
        renewals_issue_now(service_ids=others, today=today)


@retry_on_conflict
@transaction.atomic
def service_cancellation_withdraw(
    *,
    customer: Customer | None,
    service_id: int,
    actor: User | None = None,
    meta: RequestMeta | None = None,
    today: date | None = None,
) -> CancellationRequest:
    """Withdraw an end-of-period cancellation (provisioning's). The renewal the request
    cancelled comes back: issued at once when the next period is within the renewal
    horizon (else the billing run issues it when it is)."""
    today = today or timezone.localdate()
    request = provisioning.cancellation_withdraw(
        customer=customer, service_id=service_id, actor=actor, meta=meta
    )
    renewals_issue_now(service_ids=[service_id], today=today)
    return request
