"""Celery tasks of the payments app: take ids, reload, call one service. The tasks that
settle invoices (webhook processing and its sweep, reconciliation, off-session renewal
charges) are billing's, under their payments.* names (billing/tasks.py)."""

from smtplib import SMTPException

from celery import Task, shared_task
from django.utils import timezone

from billing_portal.common.outbox import outbox_id_of, outbox_run_once
from payments.services import (
    card_expiry_notices_send,
    payment_receipt_send,
    webhook_payloads_prune,
)


@shared_task(name="payments.webhook_payloads_prune")
def webhook_payloads_prune_task() -> int:
    """Daily: blank the payloads of old handled deliveries (the rows stay)."""
    return webhook_payloads_prune()


@shared_task(
    bind=True,
    name="payments.payment_receipt_send",
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=8,
)
def payment_receipt_send_task(self: Task, *, payment_id: int) -> bool:
    """The receipt of one payment, with its invoice PDF: sent once per outbox message."""
    return outbox_run_once(
        outbox_id_of(self.request), lambda: payment_receipt_send(payment_id=payment_id)
    )


@shared_task(name="payments.card_expiry_notices")
def card_expiry_notices_task() -> int:
    """Daily: tell customers whose saved card expires within 30 days, once per expiry."""
    return card_expiry_notices_send(today=timezone.localdate())
