"""Celery tasks of the billing app: take ids, reload, call one service."""

from celery import shared_task

from billing.services import (
    billing_run,
    token_purchase_deliver,
    token_purchase_remove,
    token_purchases_sweep,
    token_removals_sweep,
)

# Longer limits than the default: the run walks every service.
RUN_LIMITS = {"soft_time_limit": 3300, "time_limit": 3600}


@shared_task(name="billing.billing_run", **RUN_LIMITS)
def billing_run_task() -> int:
    """The daily run; returns the BillingRun id."""
    return billing_run().pk


@shared_task(name="invoices.billing_run", **RUN_LIMITS)
def billing_run_legacy_task() -> int:
    """The run under its name before it moved to billing (issue 13), so a message queued
    under that name before a deploy still runs. Remove once no such message can be left."""
    return billing_run().pk


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
