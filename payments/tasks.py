"""Celery tasks of the payments app: take ids, reload, call one service."""

from celery import shared_task
from django.utils import timezone

from payments.services import (
    WEBHOOK_MAX_ATTEMPTS,
    WebhookHandlerFailed,
    payments_reconcile,
    renewals_charge_off_session,
    webhook_event_process,
    webhook_events_stale,
)


@shared_task(
    name="payments.webhook_event_process",
    autoretry_for=(WebhookHandlerFailed,),
    retry_backoff=10,
    retry_backoff_max=1800,
    retry_jitter=True,
    max_retries=WEBHOOK_MAX_ATTEMPTS - 1,
)
def webhook_event_process_task(webhook_event_id: int) -> str | None:
    event = webhook_event_process(webhook_event_id=webhook_event_id)
    return event.status if event else None


@shared_task(name="payments.webhook_events_sweep")
def webhook_events_sweep_task() -> int:
    """Queue events left unprocessed (worker killed, broker lost the message)."""
    stale = webhook_events_stale()
    for webhook_event_id in stale:
        webhook_event_process_task.delay(webhook_event_id)
    return len(stale)


@shared_task(name="payments.reconcile")
def payments_reconcile_task() -> dict[str, int]:
    """Daily: record payments the gateways have and the portal missed."""
    return payments_reconcile()


@shared_task(name="payments.charge_due_renewals")
def renewals_charge_off_session_task() -> dict[str, int]:
    """Daily, after the billing run: charge renewals due today to saved default cards."""
    return renewals_charge_off_session(today=timezone.localdate())
