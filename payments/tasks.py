"""Celery tasks of the payments app: take ids, reload, call one service. The tasks that
settle invoices (webhook processing and its sweep, reconciliation, off-session renewal
charges) are billing's, under their payments.* names (billing/tasks.py)."""

from celery import shared_task
from django.utils import timezone

from payments.services import card_expiry_notices_send, webhook_payloads_prune


@shared_task(name="payments.webhook_payloads_prune")
def webhook_payloads_prune_task() -> int:
    """Daily: blank the payloads of old handled deliveries (the rows stay)."""
    return webhook_payloads_prune()


@shared_task(name="payments.card_expiry_notices")
def card_expiry_notices_task() -> int:
    """Daily: tell customers whose saved card expires within 30 days, once per expiry."""
    return card_expiry_notices_send(today=timezone.localdate())
