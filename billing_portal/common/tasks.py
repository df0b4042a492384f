"""Shared tasks: outgoing email."""

from smtplib import SMTPException

from celery import shared_task

from billing_portal.common.emails import email_send


@shared_task(
    name="common.email_send",
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=8,
)
def email_send_task(*, to: list[str], name: str, context: dict) -> None:
    email_send(to=to, name=name, context=context)
