"""Shared tasks: outgoing email, the outbox relay, the portal's own backup, outbound
webhooks."""

from smtplib import SMTPException

from celery import Task, shared_task

from billing_portal.common.backups import backup_create
from billing_portal.common.emails import email_send
from billing_portal.common.outbox import outbox_id_of, outbox_prune, outbox_relay, outbox_run_once
from billing_portal.common.webhooks import (
    webhook_deliver,
    webhook_deliveries_prune,
    webhooks_sweep,
)


@shared_task(
    bind=True,
    name="common.email_send",
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=8,
)
def email_send_task(
    self: Task, *, to: list[str], name: str, context: dict, reply_to: list[str] | None = None
) -> bool:
    """Send once per outbox message, however often it is delivered; returns whether sent."""
    return outbox_run_once(
        outbox_id_of(self.request),
        lambda: email_send(to=to, name=name, context=context, reply_to=reply_to),
    )


@shared_task(name="common.outbox_relay")
def outbox_relay_task() -> int:
    """Every 30 s (beat): publish what the outbox still holds, e.g. after a broker outage."""
    return outbox_relay()


@shared_task(name="common.outbox_relay_ids")
def outbox_relay_ids_task(ids: list[int]) -> int:
    """Publish these outbox rows (written together by `outbox_enqueue_many`), if unsent."""
    return outbox_relay(ids=ids)


@shared_task(name="common.outbox_prune")
def outbox_prune_task() -> int:
    """Daily (housekeeping): delete outbox rows long sent and done."""
    return outbox_prune()


# On the backups queue (CELERY_TASK_ROUTES), so a long dump never holds up panel calls; with
# limits of its own, as a large database takes longer than the global five minutes.
@shared_task(name="backups.portal_backup", soft_time_limit=3 * 3600, time_limit=3 * 3600 + 300)
def portal_backup_task() -> str:
    """Back up the portal's database (daily at BACKUP_HOUR_UTC); fails loudly, and leaves a
    failed record on the System status page, when it cannot."""
    return backup_create().file_name


@shared_task(name="common.webhook_deliver")
def webhook_deliver_task(delivery_id: int) -> str:
    """One attempt at an outbound webhook delivery (retries are queued by the kernel)."""
    return webhook_deliver(delivery_id=delivery_id).status


@shared_task(name="common.webhooks_sweep")
def webhooks_sweep_task() -> int:
    """Every 2 minutes: queue deliveries whose message was lost or whose worker died."""
    due = webhooks_sweep()
    for delivery_id in due:
        webhook_deliver_task.delay(delivery_id)
    return len(due)


@shared_task(name="common.webhook_deliveries_prune")
def webhook_deliveries_prune_task() -> int:
    """Daily (housekeeping): delete outbound webhook deliveries long delivered."""
    return webhook_deliveries_prune()
