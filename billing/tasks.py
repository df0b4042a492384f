"""Celery tasks of the billing app: take ids, reload, call one service."""

from celery import shared_task

from billing.services import billing_run

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
