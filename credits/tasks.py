"""Celery tasks of the credits app: take ids, reload, call one service."""

from celery import shared_task

from credits.services import credits_reconcile, token_credit_deliver, token_credits_sweep


@shared_task(name="credits.reconcile")
def credits_reconcile_task() -> int:
    """Daily: every cached balance must equal its entries; mismatches go to staff."""
    return len(credits_reconcile())


@shared_task(name="credits.token_credit_deliver")
def token_credit_deliver_task(token_credit_id: int) -> str:
    """Add one token credit in VirtFusion; the service decides retries (see its module)."""
    return token_credit_deliver(token_credit_id=token_credit_id).status


@shared_task(name="credits.token_credits_sweep")
def token_credits_sweep_task() -> int:
    """Every few minutes: flag interrupted calls, queue due retries whose message was lost."""
    due = token_credits_sweep()
    for token_credit_id in due:
        token_credit_deliver_task.delay(token_credit_id)
    return len(due)
