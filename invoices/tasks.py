"""Celery tasks of the invoices app: take ids, reload, call one service."""

from celery import shared_task

from invoices.services.billing_run import billing_run


@shared_task(name="invoices.billing_run", soft_time_limit=3300, time_limit=3600)
def billing_run_task() -> int:
    """The daily run; returns the BillingRun id. Longer limits than the default: it walks
    every service."""
    return billing_run().pk
