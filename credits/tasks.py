"""Celery tasks of the credits app: take ids, reload, call one service."""

from celery import shared_task

from credits.services import (
    credits_reconcile,
    token_purchase_deliver,
    token_purchase_remove,
    token_purchases_sweep,
    token_removals_sweep,
)


@shared_task(name="credits.reconcile")
def credits_reconcile_task() -> int:
    """Daily: every cached balance must equal its entries; mismatches go to staff."""
    return len(credits_reconcile())


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
