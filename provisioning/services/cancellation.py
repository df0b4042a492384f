"""Cancellation requests, provisioning's part: who may cancel what, the request row, its
withdrawal, and ending the service (at the end of its period through `Service.ends_on` and
the billing run, see ending.py; or at once through the normal termination, whose operation
carries it to the panel).

Money is not provisioning's: billing's flow (billing/services/cancellation.py) locks the
credit account and the unpaid renewals first (the lock order), computes the refund of an
immediate cancellation, credits it and cancels the invoices. Every write here happens with
the service's row locked, which also serialises a double submit; the database keeps one
open request per service.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone
from djmoney.money import Money

from accounts.models import Customer, User
from billing_portal.common.audit import audit_record
from billing_portal.common.request import RequestMeta
from provisioning.audit import ProvisioningAudit
from provisioning.errors import CancellationRefused
from provisioning.locks import service_lock
from provisioning.models import CancellationRequest, Service
from provisioning.services.ending import (
    RUNNING,
    cancellation_complete,
    cancellation_email,
    cancellation_open_of,
    service_end_at_period_end,
)
from provisioning.services.lifecycle import service_terminate

Kind = CancellationRequest.Kind


def cancellation_check(*, service: Service, kind: str) -> None:
    """Refuse (CancellationRefused, with the reason) what cannot be cancelled this way:
    only running services (active or suspended), and only recurring ones at period end."""
    if kind not in Kind.values:
        raise CancellationRefused("Choose when the service should end.")
    if service.status not in RUNNING:
        raise CancellationRefused(
            f"This service is {service.get_status_display().lower()}: it cannot be cancelled."
        )
    if kind == Kind.END_OF_PERIOD and service.next_due_date is None:
        raise CancellationRefused("This service has no paid period to end with: cancel it now.")


def cancellation_effective_on(*, service: Service, kind: str, today: date) -> date:
    """The day the service ends: today, or the first day not paid for (today at the
    earliest: an overdue service's paid period is over already)."""
    if kind == Kind.IMMEDIATE or service.next_due_date is None:
        return today
    return max(service.ends_on or service.next_due_date, today)


def cancellation_service_lock(*, customer: Customer | None, service_id: int) -> Service:
    """Lock the service (the customer's own: DoesNotExist for anyone else's; staff pass
    None) before any change of its cancellation."""
    service = service_lock(service_id, related=("customer__user", "product"))
    if customer is not None and service.customer_id != customer.pk:
        raise Service.DoesNotExist(f"Service {service_id} is not this customer's.")
    return service


def cancellation_latest_of(*, service_id: int) -> CancellationRequest | None:
    return (
        CancellationRequest.objects.filter(service_id=service_id)
        .order_by("-requested_at", "-id")
        .first()
    )


def _audit(
    action: ProvisioningAudit,
    service: Service,
    request: CancellationRequest,
    meta: RequestMeta | None,
    actor: User | None,
) -> None:
    audit_record(
        action=action,
        actor=actor,
        customer=service.customer,
        target=service,
        meta=meta,
        details={
            "request": request.pk,
            "kind": request.kind,
            "reason": request.reason,
            "effective_on": request.effective_on.isoformat(),
        },
    )


def cancellation_request_end_of_period(
    *,
    service: Service,
    reason: str,
    reason_text: str,
    actor: User | None,
    meta: RequestMeta | None = None,
    today: date | None = None,
) -> CancellationRequest:
    """The locked service stops renewing and ends on its due date; an open request is
    returned as it is (a double submit changes nothing)."""
    open_request = cancellation_open_of(service_id=service.pk)
    if open_request is not None:
        return open_request
    cancellation_check(service=service, kind=Kind.END_OF_PERIOD)
    today = today or timezone.localdate()
    service = service_end_at_period_end(service_id=service.pk, actor=actor)
    effective_on = cancellation_effective_on(service=service, kind=Kind.END_OF_PERIOD, today=today)
    request = CancellationRequest.objects.create(
        service=service,
        customer=service.customer,
        kind=Kind.END_OF_PERIOD,
        reason=reason,
        reason_text=reason_text,
        effective_on=effective_on,
        actor=actor,
        currency=str(service.currency),
    )
    _audit(ProvisioningAudit.CANCELLATION_REQUESTED, service, request, meta, actor)
    cancellation_email(service=service, request=request, name="cancellation_requested")
    return request


def cancellation_request_immediate(
    *,
    service: Service,
    reason: str,
    reason_text: str,
    refund: Money | None,
    actor: User | None,
    meta: RequestMeta | None = None,
    today: date | None = None,
) -> CancellationRequest:
    """Terminate the locked service now, recording the request completed with its refund
    (credited by the caller). An open end-of-period request becomes this one."""
    cancellation_check(service=service, kind=Kind.IMMEDIATE)
    today = today or timezone.localdate()
    request = cancellation_open_of(service_id=service.pk)
    if request is None:
        request = CancellationRequest(
            service=service, customer=service.customer, currency=str(service.currency)
        )
    request.kind, request.reason, request.reason_text = Kind.IMMEDIATE, reason, reason_text
    request.effective_on, request.actor = today, actor
    request.save()
    _audit(ProvisioningAudit.CANCELLATION_REQUESTED, service, request, meta, actor)
    cancellation_complete(service=service, request=request, refund=refund, meta=meta)
    service_terminate(
        service_id=service.pk, reason="cancelled by the customer", actor=actor, email=False
    )
    return request


@transaction.atomic
def cancellation_withdraw(
    *,
    customer: Customer | None,
    service_id: int,
    actor: User | None,
    meta: RequestMeta | None = None,
) -> CancellationRequest:
    """Withdraw the open end-of-period cancellation: the service renews again. Withdrawing
    twice returns the withdrawn request."""
    service = cancellation_service_lock(customer=customer, service_id=service_id)
    request = cancellation_open_of(service_id=service.pk)
    if request is None:
        latest = cancellation_latest_of(service_id=service.pk)
        if latest is not None and latest.status == CancellationRequest.Status.WITHDRAWN:
            return latest
        raise CancellationRefused("There is no cancellation of this service to withdraw.")
    if service.status not in RUNNING:
        raise CancellationRefused("This service has ended: its cancellation cannot be withdrawn.")
    service.ends_on = None
    service.save(update_fields=["ends_on"])
    request.status, request.withdrawn_at = CancellationRequest.Status.WITHDRAWN, timezone.now()
    request.save(update_fields=["status", "withdrawn_at"])
    _audit(ProvisioningAudit.CANCELLATION_WITHDRAWN, service, request, meta, actor)
    cancellation_email(service=service, request=request, name="cancellation_withdrawn")
    return request
