"""Celery tasks of the billing app: take ids, reload, call one service.

The payment tasks that settle invoices (webhook events, reconciliation, off-session renewal
charges) are here since issue 13 and keep their payments.* names: beat's schedule, the
outbox (payments.services.WEBHOOK_PROCESS_TASK) and queued messages call them by name."""

from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from billing.services import (
    billing_run,
    billing_run_chunk,
    data_export_build,
    invoice_charge_off_session,
    payments_reconcile,
    token_purchase_deliver,
    token_purchase_remove,
    token_purchases_sweep,
    token_removals_sweep,
    webhook_event_process,
)
from billing_portal.common.outbox import outbox_delivered
from billing_portal.common.retry import backoff
from payments.services import (
    WEBHOOK_MAX_ATTEMPTS,
    WebhookHandlerFailed,
    renewals_chargeable,
    webhook_events_stale,
)

# Longer limits than the default: the run walks every service.
RUN_LIMITS = {"soft_time_limit": 3300, "time_limit": 3600}


@shared_task(name="billing.billing_run", **RUN_LIMITS)
def billing_run_task() -> int:
    """The daily run's orchestrator: scans what is due and queues the renewal chunks for
    the workers (`billing.billing_run_chunk`); the last chunk completes the run. Returns
    the BillingRun id."""
    return billing_run(fan_out=True).pk


@shared_task(name="invoices.billing_run", **RUN_LIMITS)
def billing_run_legacy_task() -> int:
    """The run under its name before it moved to billing (issue 13), so a message queued
    under that name before a deploy still runs. Remove once no such message can be left."""
    return billing_run(fan_out=True).pk


@shared_task(name="billing.billing_run_chunk", **RUN_LIMITS)
def billing_run_chunk_task(chunk_id: int) -> bool:
    """One chunk of a run's renewals (any worker; a chunk delivered twice runs once). The
    last chunk also runs the run's remaining steps, hence the run's limits."""
    return billing_run_chunk(chunk_id=chunk_id)


# A database error (the connection lost, a deadlock at commit) means nothing of the event
# was applied or recorded: try again within seconds, for a few minutes, not only when the
# sweep next looks (its five minutes are the last resort, for a worker that died).
DATABASE_RETRIES = 12
DATABASE_BACKOFF = {"base": timedelta(seconds=1), "cap": timedelta(seconds=30)}


@shared_task(
    bind=True,
    name="payments.webhook_event_process",
    autoretry_for=(WebhookHandlerFailed,),
    retry_backoff=10,
    retry_backoff_max=1800,
    retry_jitter=True,
    max_retries=WEBHOOK_MAX_ATTEMPTS - 1,
)
def webhook_event_process_task(self: Task, webhook_event_id: int) -> str | None:
    try:
        # The acknowledging request does not mark its outbox row sent; the delivery does.
        outbox_delivered(self.request)
        event = webhook_event_process(webhook_event_id=webhook_event_id)
    except DatabaseError as error:
        wait = backoff(self.request.retries + 1, **DATABASE_BACKOFF)
        raise self.retry(
            exc=error, countdown=wait.total_seconds(), max_retries=DATABASE_RETRIES
        ) from error
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
def renewals_charge_off_session_task() -> int:
    """Daily, just before the billing run (so a try due on a suspension day comes first):
    queue today's try of the dunning schedule of each renewal due to its saved default
    card, one task each, so the charges spread over the workers and a long list
    is not cut off by one task's time limit (one query selects them; a message lost is
    charged at the next run, with the same idempotency key). Returns how many."""
    due = list(renewals_chargeable(today=timezone.localdate()).values_list("pk", flat=True))
    for invoice_id in due:
        invoice_charge_off_session_task.delay(invoice_id)
    return len(due)


@shared_task(name="payments.invoice_charge_off_session")
def invoice_charge_off_session_task(invoice_id: int) -> str:
    """Make today's try of charging one renewal to the customer's default card, at most once
    (the try's attempt row makes the idempotency key: a duplicate message is skipped or
    replays the provider's answer)."""
    return invoice_charge_off_session(invoice_id=invoice_id)


# The token purchase tasks keep the names they had in credits (issue 13): queued messages,
# the beat schedule and the routing to the `panels` queue (settings) use them.


@shared_task(name="credits.token_purchase_deliver")
def token_purchase_deliver_task(token_purchase_id: int) -> str:
    """Add one token purchase in VirtFusion; the service decides retries (see its module)."""
    return token_purchase_deliver(token_purchase_id=token_purchase_id).status


@shared_task(name="credits.token_purchase_remove")
def token_purchase_remove_task(token_purchase_id: int) -> str:
    """Take refunded tokens back out of VirtFusion (see the service for retries)."""
    return token_purchase_remove(token_purchase_id=token_purchase_id).status


@shared_task(name="credits.token_purchases_sweep")
def token_purchases_sweep_task() -> int:
    """Every few minutes: flag interrupted calls, queue due retries whose message was lost."""
    due = token_purchases_sweep()
    for token_purchase_id in due:
        token_purchase_deliver_task.delay(token_purchase_id)
    removals = token_removals_sweep()
    for token_purchase_id in removals:
        token_purchase_remove_task.delay(token_purchase_id)
    return len(due) + len(removals)


# A customer's data archive (billing.services.data_rights): renders every invoice as a PDF.
EXPORT_LIMITS = {"soft_time_limit": 1500, "time_limit": 1800}


@shared_task(name="billing.data_export_build", **EXPORT_LIMITS)
def data_export_build_task(export_id: int) -> str | None:
    """Build one queued data export and email its link (a duplicate message does nothing)."""
    when = timezone.now().strftime("%Y-%m-%d %H:%M")
    export = data_export_build(export_id=export_id, portal=settings.PORTAL_NAME, when=when)
    return export.status if export else None
