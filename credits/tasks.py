"""Celery tasks of the credits app: take ids, reload, call one service. The token purchase
tasks (still named `credits.*`) are billing's (billing/tasks.py)."""

from celery import shared_task

from credits.services import credits_reconcile


@shared_task(name="credits.reconcile")
def credits_reconcile_task() -> int:
    """Daily: every cached balance must equal its entries; mismatches go to staff."""
    return len(credits_reconcile())
