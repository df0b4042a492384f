"""Cancellation at the end of the paid period: the service is not renewed and is terminated,
through the normal lifecycle, on the first day it is not paid for (`Service.ends_on`).

The billing run asks `services_ending` and hands each to `service_end_if_due` (after locking
the service's unpaid renewals, which it then cancels: the lock order puts invoices before
services). Paying a renewal of the next period anyway withdraws the cancellation (see
`lifecycle._renew`).

A customer's `CancellationRequest` (provisioning/services/cancellation.py) sets the end day
through `service_end_at_period_end`; when the day comes, `service_end_if_due` completes the
request (`cancellation_complete`: audited, the customer told) with the termination.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from djmoney.money import Money

from accounts.models import User
from billing_portal.common.audit import audit_record
from billing_portal.common.emails import email_send_on_commit
from billing_portal.common.request import RequestMeta
from provisioning.audit import ProvisioningAudit
from provisioning.errors import ProvisioningError
from provisioning.locks import service_lock
from provisioning.models import CancellationRequest, Service
from provisioning.services.lifecycle import service_terminate

RUNNING = (Service.Status.ACTIVE, Service.Status.SUSPENDED)


@transaction.atomic
def service_end_at_period_end(*, service_id: int, actor: User | None = None) -> Service:
    """Stop renewing the service: it ends on its next due date (once; asking again keeps
    the day set first)."""
    service = service_lock(service_id, related=("customer",))
    if service.status not in RUNNING or service.next_due_date is None:
        raise ProvisioningError("Only a running service with a paid period can end with it.")
    if service.ends_on is not None:
        return service
    service.ends_on = service.next_due_date
    service.save(update_fields=["ends_on"])
    audit_record(
        action=ProvisioningAudit.SERVICE_ENDING,
        actor=actor,
        customer=service.customer,
        target=service,
        details={"ends_on": service.ends_on.isoformat()},
    )
    return service


def services_ending(*, today: date) -> list[int]:
    """Running services whose end day has come."""
    return list(
        Service.objects.filter(status__in=RUNNING, ends_on__lte=today).values_list("pk", flat=True)
    )


def service_end_if_due(*, service_id: int, today: date) -> bool:
    """Terminate the service if it still runs and its end day has come. True if done."""
    service = service_lock(service_id, related=("customer__user",))
    if service.status not in RUNNING or service.ends_on is None or service.ends_on > today:
        return False
    request = cancellation_open_of(service_id=service.pk)
    if request is not None:  # the customer hears of it once, as the cancellation's end
        cancellation_complete(service=service, request=request, refund=None)
    service_terminate(
        service_id=service.pk, reason="cancelled at the end of its period", email=request is None
    )
    return True


# --- Cancellation requests ----------------------------------------------------------------


def cancellation_open_of(*, service_id: int) -> CancellationRequest | None:
    """The service's open (requested) cancellation, if any (at most one: the database)."""
    return CancellationRequest.objects.filter(
        service_id=service_id, status=CancellationRequest.Status.REQUESTED
    ).first()


def cancellation_email(*, service: Service, request: CancellationRequest, name: str) -> None:
    """One of the cancellation emails (requested, withdrawn, completed) to the customer."""
    context: dict[str, Any] = {
        "customer_name": service.customer.name,
        "service": str(service),
        "kind": request.kind,
        "effective_on": request.effective_on.isoformat(),
        "refund": str(request.refund) if request.refund is not None else "",
        "service_path": f"/services/{service.pk}/",
    }
    email_send_on_commit(to=[service.customer.user.email], name=name, context=context)


def cancellation_complete(
    *,
    service: Service,
    request: CancellationRequest,
    refund: Money | None,
    meta: RequestMeta | None = None,
) -> CancellationRequest:
    """Mark the request completed (the caller holds the service's lock and terminates it in
    the same transaction), audited, with the completion email."""
    request.status, request.completed_at = CancellationRequest.Status.COMPLETED, timezone.now()
    request.refund = refund
    request.save(update_fields=["status", "completed_at", "refund", "currency"])
    audit_record(
        action=ProvisioningAudit.CANCELLATION_COMPLETED,
        actor=request.actor,
        customer=service.customer,
        target=service,
        meta=meta,
        details={
            "request": request.pk,
            "kind": request.kind,
            "refund": str(refund) if refund is not None else None,
        },
    )
    cancellation_email(service=service, request=request, name="cancellation_completed")
    return request
