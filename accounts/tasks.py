"""Account maintenance tasks."""

from axes.handlers.proxy import AxesProxyHandler
from celery import shared_task

LOGIN_LOG_RETENTION_DAYS = 90


@shared_task(name="accounts.login_logs_prune")
def login_logs_prune_task() -> int:
    """Delete axes access logs older than the retention period (the audit log keeps the
    security-relevant events); returns how many rows went."""
    return AxesProxyHandler.reset_logs(age_days=LOGIN_LOG_RETENTION_DAYS)
