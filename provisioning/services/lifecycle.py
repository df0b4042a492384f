"""Service writes: creation at order time (with placement on a server), cancellation,
suspension, termination, and what an invoice payment does.

These functions are the one place a service changes state. For a product with a panel
module, each change also records a provisioning operation for the panel (run after commit,
see `operations`): a paid new service goes `provisioning` and becomes `active` only when the
panel confirms; suspension and termination take effect in the portal at once (they are
billing decisions) and are carried to the panel by their operations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from djmoney.money import Money

from accounts.email_preferences import OptionalEmail, email_wanted
from accounts.models import Customer, User
from billing_portal.common.audit import audit_record
from billing_portal.common.emails import email_send_on_commit
from billing_portal.common.webhooks import WebhookEventType, webhook_emit
from catalogue.models import CYCLE_MONTHS, ConfigurableOption, Coupon, Product
from provisioning.audit import ProvisioningAudit
from provisioning.errors import InvalidServiceTransition
from provisioning.hooks import service_ended_dispatch_on_commit
from provisioning.locks import service_lock
from provisioning.models import (
    SERVICE_TRANSITIONS,
    CancellationRequest,
    ProvisioningOperation,
    Service,
    ServiceOption,
)
from provisioning.panels.base import ProvisionResult
from provisioning.services.operations import operation_enqueue
from provisioning.services.servers import server_place, server_release

if TYPE_CHECKING:
    from provisioning.services.dues import UnpaidBills

OpKind = ProvisioningOperation.Kind
# The outbound webhook each status change reports (billing_portal/common/webhooks.py).
STATUS_WEBHOOKS = {
    ProvisioningAudit.SERVICE_SUSPENDED: WebhookEventType.SERVICE_SUSPENDED,
    ProvisioningAudit.SERVICE_UNSUSPENDED: WebhookEventType.SERVICE_UNSUSPENDED,
    ProvisioningAudit.SERVICE_TERMINATED: WebhookEventType.SERVICE_TERMINATED,
}


@dataclass(frozen=True)
class PaidServiceLine:
    """One line of a paid invoice that bills a service, as provisioning needs to know it
    (billing's settlement reads it off the invoice)."""

    service_id: int
    line_id: int
    is_period: bool  # the service's own period (not an add-on, a setup fee, a plan change)
    period_start: date | None
    period_end: date | None


def service_period_end(*, start: date, cycle: str) -> date | None:
    """Last day of the billing period that starts on `start` (None for one-time purchases)."""
    months = CYCLE_MONTHS[cycle]
    if months is None:
        return None
    return start + relativedelta(months=months) - timedelta(days=1)


def service_assert_transition(service: Service, *, to: str) -> None:
    if to not in SERVICE_TRANSITIONS[service.status]:
        raise InvalidServiceTransition(
            f"{service} is {service.get_status_display().lower()} and cannot become "
            f"{Service.Status(to).label.lower()}."
        )


def service_create_pending(
    *,
    customer: Customer,
    product: Product,
    cycle: str,
    recurring_amount: Money,
    options: list[tuple[ConfigurableOption, int]],
    order_id: int | None = None,
    recurring_coupon: Coupon | None = None,
    domain: str = "",
    hostname: str = "",
) -> Service:
    """A new, unpaid service, placed on a server of its product's group (NoServerCapacity
    when none has room). Call inside the ordering transaction."""
    server = server_place(product=product)
    service = Service.objects.create(
        customer=customer,
        server=server,
        order_id=order_id,
        product=product,
        cycle=cycle,
        currency=str(recurring_amount.currency),
        recurring_amount=recurring_amount,
        recurring_coupon=recurring_coupon,
        domain=domain,
        hostname=hostname,
    )
    ServiceOption.objects.bulk_create(
        ServiceOption(service=service, option=option, quantity=quantity)
        for option, quantity in options
        if quantity
    )
    return service


@transaction.atomic
def service_cancel(*, service_id: int, actor: User | None = None, reason: str = "") -> Service:
    """Cancel a service that never started (its order was cancelled or never paid)."""
    service = service_lock(service_id)
    if service.status == Service.Status.CANCELLED:
        return service
    service_ended_dispatch_on_commit(service.pk)
    service_assert_transition(service, to=Service.Status.CANCELLED)
    service.status = Service.Status.CANCELLED
    service.cancelled_at = timezone.now()
    service.save(update_fields=["status", "cancelled_at"])
    server_release(server_id=service.server_id)
    audit_record(
        action=ProvisioningAudit.SERVICE_CANCELLED,
        actor=actor,
        customer=service.customer,
        target=service,
        details={"reason": reason},
    )
    return service


def service_webhook_fields(service: Service) -> dict[str, object]:
    """What outbound webhooks say about a service (billing_portal/common/webhooks.py)."""
    return {
        "customer_id": service.customer_id,
        "product": service.product.name,
        "status": service.status,
        "domain": service.domain,
        "hostname": service.hostname,
        "next_due_date": service.next_due_date,
    }


def _lock(service_id: int) -> Service:
    return service_lock(service_id, related=("customer__user", "product"))


def _change_status(
    *,
    service_id: int,
    to: str,
    action: ProvisioningAudit,
    stamp: str,
    actor: User | None,
    reason: str,
    email: str | None,
    panel_kind: str | None = None,
    optional: OptionalEmail | None = None,
) -> Service:
    service = _lock(service_id)
    if service.status == to:
        return service
    service_assert_transition(service, to=to)
    service.status = to
    setattr(service, stamp, timezone.now())
    service.save(update_fields=["status", stamp])
    if panel_kind and service.external_id:
        operation_enqueue(service=service, kind=panel_kind, payload={"reason": reason})
    audit_record(
        action=action,
        actor=actor,
        customer=service.customer,
        target=service,
        details={"reason": reason},
    )
    webhook_emit(STATUS_WEBHOOKS[action], service, reason=reason, **service_webhook_fields(service))
    if email and (optional is None or email_wanted(customer=service.customer, kind=optional)):
        email_send_on_commit(
            to=[service.customer.user.email],
            name=email,
            context={
                "customer_name": service.customer.name,
                "service": str(service),
                "reason": reason,
                "service_path": f"/services/{service.pk}/",
            },
        )
    return service


@transaction.atomic
def service_suspend(*, service_id: int, reason: str, actor: User | None = None) -> Service:
    return _change_status(
        service_id=service_id,
        to=Service.Status.SUSPENDED,
        action=ProvisioningAudit.SERVICE_SUSPENDED,
        stamp="suspended_at",
        actor=actor,
        reason=reason,
        email="service_suspended",
        panel_kind=OpKind.SUSPEND,
    )


@transaction.atomic
def service_unsuspend(*, service_id: int, reason: str, actor: User | None = None) -> Service:
    return _change_status(
        service_id=service_id,
        to=Service.Status.ACTIVE,
        action=ProvisioningAudit.SERVICE_UNSUSPENDED,
        stamp="activated_at",
        actor=actor,
        reason=reason,
        email="service_unsuspended",
        panel_kind=OpKind.UNSUSPEND,
        optional=OptionalEmail.ACCOUNT_UPDATE,
    )


@transaction.atomic
def service_terminate(
    *, service_id: int, reason: str, actor: User | None = None, email: bool = True
) -> Service:
    """Terminate now; `email=False` when the caller tells the customer itself (a completed
    cancellation). An open cancellation request ends with the service (completed)."""
    service_ended_dispatch_on_commit(service_id)
    before = _lock(service_id).status
    service = _change_status(
        service_id=service_id,
        to=Service.Status.TERMINATED,
        action=ProvisioningAudit.SERVICE_TERMINATED,
        stamp="terminated_at",
        actor=actor,
        reason=reason,
        email="service_terminated" if email else None,
        panel_kind=OpKind.TERMINATE,
    )
    if before != Service.Status.TERMINATED:
        server_release(server_id=service.server_id)
        # e.g. terminated for non-payment before its end day: nothing is left to cancel.
        CancellationRequest.objects.filter(
            service_id=service_id, status=CancellationRequest.Status.REQUESTED
        ).update(status=CancellationRequest.Status.COMPLETED, completed_at=timezone.now())
    return service


def service_has_suspendable_debt(*, service: Service, today: date, bills: UnpaidBills) -> bool:
    """Whether an unpaid invoice of this service is overdue long enough to suspend it."""
    cutoff = today - timedelta(days=settings.BILLING_SUSPEND_AFTER_DAYS)
    return bills.service_unpaid_since(service_id=service.pk, cutoff=cutoff)


def _activate(service: Service, line: PaidServiceLine, invoice_number: str) -> None:
    """The first payment: start the panel set-up, or (no module) activate at once. The paid
    period runs from the payment, whichever way."""
    service.next_due_date = line.period_end + timedelta(days=1) if line.period_end else None
    if service.product.module and service.server_id:
        service_assert_transition(service, to=Service.Status.PROVISIONING)
        service.status = Service.Status.PROVISIONING
        service.save(update_fields=["status", "next_due_date"])
        operation_enqueue(service=service, kind=OpKind.CREATE)
        return
    service_assert_transition(service, to=Service.Status.ACTIVE)
    service.status = Service.Status.ACTIVE
    service.activated_at = timezone.now()
    service.save(update_fields=["status", "activated_at", "next_due_date"])
    audit_record(
        action=ProvisioningAudit.SERVICE_PROVISIONED,
        customer=service.customer,
        target=service,
        details={"invoice": invoice_number, "module": service.product.module},
    )
    webhook_emit(WebhookEventType.SERVICE_ACTIVATED, service, **service_webhook_fields(service))


@transaction.atomic
def service_provisioned(*, service_id: int, result: ProvisionResult) -> Service:
    """The panel confirmed the create: the service is active, with what the panel gave."""
    service = _lock(service_id)
    if service.status != Service.Status.PROVISIONING:
        return service  # e.g. cancelled by staff meanwhile; the panel account stays for them
    service.status, service.activated_at = Service.Status.ACTIVE, timezone.now()
    service.external_id, service.username = result.external_id, result.username
    service.panel_url, service.secrets = result.panel_url, dict(result.secrets)
    service.provision_details = dict(result.details)
    service.save()
    audit_record(
        action=ProvisioningAudit.SERVICE_PROVISIONED,
        customer=service.customer,
        target=service,
        details={
            "module": service.product.module,
            "server": str(service.server),
            "external_id": result.external_id,
        },
    )
    webhook_emit(WebhookEventType.SERVICE_ACTIVATED, service, **service_webhook_fields(service))
    email_send_on_commit(
        to=[service.customer.user.email],
        name="service_welcome",
        context={
            "customer_name": service.customer.name,
            "service": str(service),
            "panel_url": service.panel_url,
            "username": service.username,
            "service_path": f"/services/{service.pk}/",
        },
    )
    return service


@transaction.atomic
def service_provision_failed(*, service_id: int, error: str) -> Service:
    service = _lock(service_id)
    if service.status != Service.Status.PROVISIONING:
        return service
    service.status = Service.Status.FAILED
    service.save(update_fields=["status"])
    audit_record(
        action=ProvisioningAudit.SERVICE_PROVISION_FAILED,
        customer=service.customer,
        target=service,
        details={"error": error, "server": str(service.server)},
    )
    return service


@transaction.atomic
def service_provision_by_staff(*, service_id: int, actor: User, reason: str) -> Service:
    """Staff set up a service before (or without) its payment, e.g. a trial or a goodwill
    service; its billing is unchanged. Audited with the reason."""
    if not reason.strip():
        raise InvalidServiceTransition("Give the reason for setting it up without payment.")
    service = _lock(service_id)
    if not (service.product.module and service.server_id):
        raise InvalidServiceTransition("This service has no panel (module and server) to set up.")
    service_assert_transition(service, to=Service.Status.PROVISIONING)
    if service.status != Service.Status.PENDING:
        raise InvalidServiceTransition("Only a pending service can be set up this way.")
    service.status = Service.Status.PROVISIONING
    service.save(update_fields=["status"])
    operation_enqueue(service=service, kind=OpKind.CREATE)
    audit_record(
        action=ProvisioningAudit.SERVICE_PROVISIONED,
        actor=actor,
        customer=service.customer,
        target=service,
        details={"by_staff": True, "reason": reason.strip(), "stage": "requested"},
    )
    return service


@transaction.atomic
def service_provision_retry(*, service_id: int, actor: User | None) -> Service:
    service = _lock(service_id)
    if service.status == Service.Status.FAILED:
        service.status = Service.Status.PROVISIONING
        service.save(update_fields=["status"])
    return service


def _renew(service: Service, line: PaidServiceLine, invoice_number: str) -> None:
    if line.period_end is None:  # the caller renews only from lines with a period
        raise ValueError(f"Invoice line {line.line_id} has no period to renew for.")
    service.next_due_date = line.period_end + timedelta(days=1)
    if service.ends_on and line.period_start and service.ends_on <= line.period_start:
        service.ends_on = None  # the next period was paid anyway: it no longer ends
        CancellationRequest.objects.filter(
            service=service, status=CancellationRequest.Status.REQUESTED
        ).update(status=CancellationRequest.Status.WITHDRAWN, withdrawn_at=timezone.now())
    service.save(update_fields=["next_due_date", "ends_on"])
    audit_record(
        action=ProvisioningAudit.SERVICE_RENEWED,
        customer=service.customer,
        target=service,
        details={"invoice": invoice_number, "paid_until": line.period_end.isoformat()},
    )


def services_on_invoice_paid(
    *, invoice_number: str, lines: Sequence[PaidServiceLine], bills: UnpaidBills
) -> None:
    """Called by billing's invoice_settled with the paid invoice's service lines (in period
    order): activate new services, extend renewed ones, and lift a non-payment suspension
    once no suspendable debt is left (`bills` tells what is still unpaid).

    Runs inside the paying transaction (see billing.services.settlement). A line for a period
    that is no longer the service's next one (already extended, or the service ended) changes
    nothing.
    """
    today = timezone.localdate()
    for line in lines:
        service = _lock(line.service_id)
        if service.status == Service.Status.SUSPENDED and not service_has_suspendable_debt(
            service=service, today=today, bills=bills
        ):
            service = service_unsuspend(
                service_id=service.pk, reason=f"invoice {invoice_number} paid"
            )
        if not line.is_period:
            continue
        if service.status == Service.Status.PENDING:
            _activate(service, line, invoice_number)
        elif (
            service.status in (Service.Status.ACTIVE, Service.Status.SUSPENDED)
            and line.period_end
            and service.next_due_date == line.period_start
        ):
            _renew(service, line, invoice_number)
