"""Row locks of payments' tables, in the portal's lock order (billing_portal/common/locks.py)."""

from __future__ import annotations

from billing_portal.common.locks import LockKind, lock_first, lock_one
from payments.models import GatewaySubscription, Payment, WebhookEvent


def payment_lock(payment_id: int) -> Payment:
    """The payment row, locked (after its invoice: a refund changes both)."""
    return lock_one(Payment.objects.all(), kind=LockKind.PAYMENT, pk=payment_id)


def webhook_event_claim(webhook_event_id: int) -> WebhookEvent | None:
    """The stored webhook event, locked, or None when another worker holds it (skip
    locked: a duplicate delivery never waits for the one being processed)."""
    rows = WebhookEvent.objects.all()
    return lock_first(rows, kind=LockKind.WEBHOOK_EVENT, skip_locked=True, pk=webhook_event_id)


def gateway_subscription_lock(*, gateway: str, reference: str) -> GatewaySubscription | None:
    """The provider subscription with this reference, locked, or None."""
    rows = GatewaySubscription.objects.all()
    kind = LockKind.GATEWAY_SUBSCRIPTION
    return lock_first(rows, kind=kind, gateway=gateway, reference=reference)
