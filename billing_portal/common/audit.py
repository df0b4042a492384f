"""The audit log: `audit_record` appends one `AuditEvent` for an action some app declared.

Each app declares its own actions in its `audit.py` as an `AuditActions` class, under
namespaces only it uses (`invoices/audit.py`: `invoice.*`; `catalogue/audit.py`: `order.*`);
the rules and how they are found are in billing_portal/common/audit_registry.py. Usage:

    audit_record(action=ProvisioningAudit.SERVICE_SUSPENDED, customer=..., target=service)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django.db import models

from billing_portal.common.audit_registry import AuditActions, AuditRegistry, audit_actions
from billing_portal.common.models import AuditEvent
from billing_portal.common.request import RequestMeta

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

__all__ = [
    "AuditActions",
    "AuditEvent",
    "AuditRegistry",
    "EmailOverrideAudit",
    "UndeclaredAuditAction",
    "WebhookAudit",
    "audit_actions",
    "audit_event",
    "audit_record",
    "audit_record_many",
    "audit_records_batched",
]


class WebhookAudit(AuditActions):
    """The kernel's own actions: outbound webhooks (billing_portal/common/webhooks.py)."""

    ENDPOINT_CREATED = "webhook.endpoint_created", "Webhook endpoint registered"
    ENDPOINT_CHANGED = "webhook.endpoint_changed", "Webhook endpoint changed"
    ENDPOINT_DELETED = "webhook.endpoint_deleted", "Webhook endpoint deleted"
    SECRET_ROTATED = "webhook.secret_rotated", "Webhook endpoint given a new secret"
    DELIVERY_RESENT = "webhook.delivery_resent", "Webhook delivery sent again"


class EmailOverrideAudit(AuditActions):
    """Staff's wording of emails (billing_portal/common/email_overrides.py)."""

    SAVED = "email_override.saved", "Email override saved"
    DELETED = "email_override.deleted", "Email override deleted"
    TEST_SENT = "email_override.test_sent", "Email override sent as a test"


# The events `audit_record` collects inside `audit_records_batched`, or None outside it.
_batch: ContextVar[list[AuditEvent] | None] = ContextVar("audit_batch", default=None)


class UndeclaredAuditAction(ValueError):
    """`audit_record` was given an action no app declares (a typo, or a missing `audit.py`
    entry): a programming error, so it fails loudly instead of writing an unknown value."""


def audit_event(
    *,
    action: AuditActions | str,
    actor: AbstractBaseUser | None = None,
    customer: models.Model | None = None,
    target: models.Model | None = None,
    meta: RequestMeta | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """The event `audit_record` would append, not saved yet (for `audit_record_many`)."""
    if not audit_actions.is_declared(str(action)):
        raise UndeclaredAuditAction(f"No app declares the audit action {str(action)!r}")
    meta = meta or RequestMeta()
    actor = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent(
        action=str(action),
        actor=actor,
        actor_label=actor.get_username() if actor else "",
        customer=customer,
        object_type=target._meta.label_lower if target is not None else "",
        object_id=str(target.pk) if target is not None else "",
        ip_address=meta.ip_address,
        user_agent=meta.user_agent,
        details=details or {},
    )


def audit_record(
    *,
    action: AuditActions | str,
    actor: AbstractBaseUser | None = None,
    customer: models.Model | None = None,
    target: models.Model | None = None,
    meta: RequestMeta | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event. Call it inside the transaction that made the change, so the
    event exists exactly when the change does. `customer` is an `accounts.Customer`."""
    event = audit_event(
        action=action, actor=actor, customer=customer, target=target, meta=meta, details=details
    )
    batch = _batch.get()
    if batch is None:
        event.save(force_insert=True)
    else:
        batch.append(event)  # saved when the batch ends
    return event


def audit_record_many(events: list[AuditEvent]) -> list[AuditEvent]:
    """Append events built by `audit_event` in one statement (a batch of changes, such as a
    billing run chunk), in the caller's transaction."""
    return AuditEvent.objects.bulk_create(events)


@contextmanager
def audit_records_batched() -> Iterator[None]:
    """Within the block, `audit_record` collects its events, and they are written in one
    INSERT as the block ends, so a sweep that changes many rows at once appends their
    events in one statement, not one each. Use it inside the transaction that makes the
    changes (the events then exist exactly when the changes do); an error in the block
    writes none. The events `audit_record` returns in it are saved only then."""
    events: list[AuditEvent] = []
    token = _batch.set(events)
    try:
        yield
    finally:
        _batch.reset(token)
    audit_record_many(events)
