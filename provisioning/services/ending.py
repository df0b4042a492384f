"""Cancellation at the end of the paid period: the service is not renewed and is terminated,
through the normal lifecycle, on the first day it is not paid for (`Service.ends_on`).

The billing run asks `services_ending` and hands each to `service_end_if_due` (after locking
the service's unpaid renewals, which it then cancels: the lock order puts invoices before
services). Paying a renewal of the next period anyway withdraws the cancellation (see
`lifecycle._renew`).
"""

from __future__ import annotations

from datetime import date

from django.db import transaction

from accounts.models import User
from billing_portal.common.audit import audit_record
from provisioning.audit import ProvisioningAudit
from provisioning.errors import ProvisioningError
from provisioning.locks import service_lock
from provisioning.models import Service
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
    service = service_lock(service_id)
    if service.status not in RUNNING or service.ends_on is None or service.ends_on > today:
        return False
    service_terminate(service_id=service.pk, reason="cancelled at the end of its period")
    return True
